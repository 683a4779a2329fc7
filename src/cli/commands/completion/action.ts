/** `coord completion SHELL`: prints the script of SHELL, generated from the program's own definitions. */
import type { Command } from 'commander';
import { bashScript, completionTree, fishScript, zshScript } from './scripts.js';

export async function completionCommand(shell: 'bash' | 'zsh' | 'fish', _flags: unknown, cmd: Command): Promise<void> {
  let root = cmd;
  while (root.parent) root = root.parent;
  const nodes = completionTree(root);
  const name = root.name();
  process.stdout.write(shell === 'bash' ? bashScript(name, nodes) : shell === 'zsh' ? zshScript(name, nodes) : fishScript(name, nodes));
}
