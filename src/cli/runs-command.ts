/**
 * The commands that run a CMD of the user's (`coord lock PATH … -- CMD`, `coord resource
 * acquire NAME=N… -- CMD`, `coord spawn … -- CMD`). Their own options may stand before and
 * after their own arguments; CMD is what follows `--`, passed on untouched (`-- echo --read`
 * runs `echo --read`). Without `--`, CMD starts at the first word that is not one of the
 * command's own arguments and runs to the end, options and all (`coord lock notes.md sh -c …`).
 *
 * Commander has no setting for this. With passThroughOptions it stops reading options at the
 * first argument, so `coord lock PATH --read -- CMD` took the write lock and ran `--read`;
 * without it, options are read up to `--`, so `coord lock PATH sh -c …` failed on `-c`. So
 * the options are read here with passThroughOptions one stretch at a time: up to an argument,
 * which is either the command's own (and reading goes on after it) or the start of CMD.
 */
import { Command, type ParseOptionsResult } from 'commander';

export interface OwnArguments {
  /** Whether `word`, coming after `count` own arguments and before any `--`, is one more (else CMD starts there). */
  takes(word: string, count: number): boolean;
  /** How many the command needs: fewer, and commander reports the first one missing. */
  needs: number;
}

export class RunsCommand extends Command {
  /** The command's own arguments, as given (PATH; NAME=N…), once parsed. */
  ownWords: string[] = [];
  /** CMD and its arguments, as given, once parsed. */
  commandWords: string[] = [];

  constructor(
    name: string,
    private readonly own: OwnArguments,
  ) {
    super(name);
    this.passThroughOptions();
  }

  override parseOptions(args: string[]): ParseOptionsResult {
    const dashes = args.indexOf('--');
    const end = dashes < 0 ? args.length : dashes;
    const own: string[] = [];
    let start = dashes < 0 ? end : dashes + 1;
    for (let at = 0; at < end; ) {
      // options up to the next argument: operands are that argument and all after it (up to end)
      const { operands, unknown } = super.parseOptions(args.slice(at, end));
      // an unknown option, or --help: commander reports it (or prints the help)
      if (unknown.length > 0) return { operands: own, unknown };
      if (operands.length === 0) break;
      const i = end - operands.length;
      const word = args[i] ?? '';
      if (!this.own.takes(word, own.length)) {
        start = i;
        break;
      }
      own.push(word);
      at = i + 1;
    }
    this.ownWords = own;
    this.commandWords = args.slice(start);
    // an own argument missing: without CMD in the operands, commander names the first one missing
    return { operands: own.length < this.own.needs ? own : [...own, ...this.commandWords], unknown: [] };
  }
}

/** `parent.command(name)` for a command that runs a CMD. */
export function runsCommand(parent: Command, name: string, own: OwnArguments): RunsCommand {
  const cmd = new RunsCommand(name, own).copyInheritedSettings(parent);
  parent.addCommand(cmd);
  return cmd;
}
