/**
 * The raw plan document (SPEC §2) as a zod v4 schema: snake_case keys exactly as written in
 * YAML. Objects are strict (unknown keys are errors); keys starting with `x-` are extension
 * keys — the loader ignores them, and the JSON Schema allows them through `patternProperties`.
 * Built only from constructs that `z.toJSONSchema(planSchema, { target: 'draft-7' })` converts;
 * the `.describe()` texts become editor hints.
 */
import { z } from 'zod';
import { parseDuration } from '../util/duration.js';
import { QUORUM_PATTERN } from '../consensus/tally.js';
import {
  GATHER_MODES,
  SOFT_SIGNALS,
  CONFLICT_POLICIES,
  CONVERGENCE_TYPES,
  FILE_ACCESS,
  HEARTBEAT_SOURCES,
  ID_PATTERN,
  PROTOCOLS,
  STREAM_ID_PATTERN,
  STATE_TYPES,
  VERIFY_FAILURE_MODES,
  WORKSPACE_MODES,
} from './types.js';

/** What a duration string must look like: `500ms`, `30s`, `5m`, `1h` or a number of seconds. */
export const DURATION_PATTERN = /^\d+(?:\.\d+)?(?:ms|s|m|h)?$/;
/** Environment variable names a plan may set. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Extension keys (`x-…`), ignored wherever a strict object stands. */
export const EXTENSION_KEY = /^x-/;

/** Why `id` is not a valid stream id / point name, or undefined when it is. */
export function idProblem(id: string): string | undefined {
  if (STREAM_ID_PATTERN.test(id)) return undefined;
  const shown = JSON.stringify(id);
  if (id.length === 0) return 'an id must not be empty';
  if (id.length > 64) return `id ${shown} is ${id.length} characters long (at most 64)`;
  if (/[/\\]/.test(id)) return `id ${shown} must not contain a path separator`;
  if (!/^[A-Za-z0-9]/.test(id)) return `id ${shown} must start with a letter or digit`;
  if (id.includes('..')) return `id ${shown} must not contain ".."`;
  return `id ${shown} may only contain letters, digits, "_", "." and "-"`;
}

const durationError = (iss: { input?: unknown }): string => {
  const r = parseDuration(iss.input);
  return r.ok ? `bad duration ${JSON.stringify(iss.input)}` : r.error;
};

/** A duration: a non-negative number of seconds or a string such as `500ms`, `30s`, `5m`, `1h`. */
export const durationSchema = z
  .union([z.number().nonnegative({ error: durationError }), z.string().regex(DURATION_PATTERN, { error: durationError })], { error: durationError })
  .describe('A duration: 500ms, 30s, 5m, 1h, or a bare number of seconds (300)');

const dur = (what: string) => durationSchema.describe(`${what} (500ms, 30s, 5m, 1h or a number of seconds)`);

/** A stream id or point name; voters (`pattern` ID_PATTERN) may be any name `coord vote --as` takes. */
const idSchema = (what: string, pattern: RegExp = STREAM_ID_PATTERN) =>
  z
    .string()
    .regex(pattern, { error: (iss) => idProblem(String(iss.input)) ?? 'invalid id' })
    .describe(`${what}: 1-64 letters, digits, "_", "." or "-", starting with a letter or digit${pattern === STREAM_ID_PATTERN ? ', without ".."' : ''}`);

const enumOf = <T extends string>(values: readonly T[], what: string) => z.enum(values as [T, ...T[]]).describe(`${what}: ${values.join(' | ')}`);

const strict = <S extends z.ZodRawShape>(shape: S, description: string) =>
  z
    .strictObject(shape)
    .meta({ patternProperties: { '^x-': {} } })
    .describe(description);

/** A command: one string run by `sh -c`, or an argument list run without a shell. */
export const commandSchema = z
  .union([z.string().regex(/\S/, { error: 'a command must not be empty' }), z.array(z.string()).min(1, { error: 'a command list must not be empty' })], {
    error: 'expected a command: a non-empty string (run by sh -c) or a non-empty list of strings',
  })
  .describe('A string runs through `sh -c`; a list of strings runs without a shell');

/** Resource units by pool name (pools in agent_coordination, demands in streams). */
const resourcesSchema = (what: string) =>
  z.record(z.string().regex(ID_PATTERN, { error: (iss) => `bad resource name ${JSON.stringify(iss.input)}` }), z.int().min(1)).describe(what);

/** A quorum: `majority`, `all`, a number of yes-votes, or a percentage of the voters. */
const quorumSchema = z
  .union([
    z.int().min(1),
    z.string().regex(QUORUM_PATTERN, { error: (iss) => `bad quorum ${JSON.stringify(iss.input)}: use majority, all, a number (2) or a percentage (60%)` }),
  ])
  .describe('Yes-votes needed: majority | all | a number | a percentage such as 60% (default majority)');

const coordinationSchema = strict(
  {
    convergence_type: enumOf(CONVERGENCE_TYPES, 'Default convergence type').optional(),
    isolation: strict(
      {
        workspace: enumOf(WORKSPACE_MODES, 'Default workspace mode of every stream').optional(),
        file_access: enumOf(FILE_ACCESS, 'How streams may touch shared files').optional(),
      },
      'Workspace isolation defaults',
    ).optional(),
    state_management: strict({ type: enumOf(STATE_TYPES, 'Shared state model').optional() }, 'Shared state defaults').optional(),
    protocols: z.array(enumOf(PROTOCOLS, 'Coordination protocol')).describe('Coordination protocols in use').optional(),
  },
  'Coordination defaults for every stream',
);

const pointSchema = strict(
  {
    name: idSchema('Convergence point name (streams may depend_on it); default point_<n>').optional(),
    type: enumOf(CONVERGENCE_TYPES, "How the point merges; default: its streams' common convergence, else the plan default").optional(),
    streams: z.array(z.string()).describe('Stream ids merged at this point; default: every stream that does not depend on it').optional(),
    timeout: dur('The point fails if not complete this long after its first stream started').optional(),
    on_conflict: z
      .union([
        enumOf(CONFLICT_POLICIES, 'What to do when two streams write the same path differently'),
        strict(
          {
            default: enumOf(CONFLICT_POLICIES, 'The policy for paths no glob matches (default fail)').optional(),
            paths: z
              .record(z.string().min(1), enumOf(CONFLICT_POLICIES, 'The policy for paths matching this glob'))
              .describe('Per-path policies: glob -> policy; the first matching glob decides')
              .optional(),
          },
          'Conflict policies by path',
        ),
      ])
      .optional(),
    allow_conflicts: z.boolean().describe('three-way: publish a merge with conflict markers instead of failing the point').optional(),
    keep_going: z
      .boolean()
      .describe(
        "When a stream fails, keep the others running and merge what every stream left, failed ones included (CI shards' reports); the point still fails",
      )
      .optional(),
    checkpoint_keep: z
      .number()
      .int({ error: 'checkpoint_keep must be a whole number' })
      .min(1, { error: 'checkpoint_keep must be at least 1' })
      .describe('checkpoint points: how many checkpoints stay (the oldest go first); default 10')
      .optional(),
    approve: strict(
      {
        quorum: quorumSchema.optional(),
        timeout: dur('The proposal is rejected (and the point fails) when undecided this long after it opened').optional(),
        voters: z
          .array(idSchema('Voter name (a stream id, a group id, or any name used with coord vote --as)', ID_PATTERN))
          .min(1, { error: 'voters needs at least one name' })
          .describe("Who votes; default: the point's streams")
          .optional(),
      },
      'The merge is published only when a quorum approves it (coord vote <point> yes|no)',
    ).optional(),
    verify: commandSchema
      .describe('A check run on a scratch copy of the merged tree (sh -c for a string); the point publishes only when it exits 0')
      .optional(),
    verify_timeout: dur('A check running longer is stopped and fails (default 30m)').optional(),
    verify_retries: z
      .number()
      .int({ error: 'verify_retries must be a whole number' })
      .min(0, { error: 'verify_retries must not be negative' })
      .describe('A failing check is run again up to this many times; it passes when one run passes (flaky tests); default 0')
      .optional(),
    on_verify_failure: enumOf(
      VERIFY_FAILURE_MODES,
      'fail (default): the point fails; exclude: find the streams that broke the check, publish the rest',
    ).optional(),
    feedback: z
      .number()
      .int({ error: 'feedback must be a whole number' })
      .min(0, { error: 'feedback must not be negative' })
      .describe(
        'A stream whose changes break the check (or conflict) runs again as its next attempt, in its own workspace, with COORD_FEEDBACK naming a file that says what broke, up to this many times; then the point merges and checks again',
      )
      .optional(),
    resolve: commandSchema
      .describe(
        'Run on a merge that conflicts, in a scratch tree where the conflicting files carry markers (COORD_CONFLICTS lists them with their base and each side); when it leaves no markers, its result is the merge',
      )
      .optional(),
    resolve_timeout: dur('A resolver running longer is stopped and the point fails on its conflicts (default 30m)').optional(),
    verify_max_runs: z
      .number()
      .int({ error: 'verify_max_runs must be a whole number' })
      .min(1, { error: 'verify_max_runs must be at least 1' })
      .describe('exclude: the most checks the search for the culprits may run before the point fails; default 50')
      .optional(),
  },
  "A convergence point: where streams' outputs are merged",
);

const agentCoordinationSchema = strict(
  {
    workspace_root: z.string().min(1).describe('Stream workspaces live in <root>/<run id>/<stream id> (relative to the plan)').optional(),
    convergence_points: z.array(pointSchema).describe('Convergence points').optional(),
    state_management: strict(
      {
        manager: enumOf(STATE_TYPES, 'Shared state manager').optional(),
        checkpoint_interval: dur('Interval of checkpoint convergence copies and of durable snapshots of the shared state').optional(),
        keep_versions: z.int().min(2).describe('Versions of the shared state kept for reading and rollback (the change log is kept whole)').optional(),
        durable: z.boolean().describe('Flush every state version to disk before the write returns (survives power loss, not only crashes)').optional(),
      },
      'Shared state settings',
    ).optional(),
    heartbeat: strict(
      {
        interval: dur('How often streams are expected to beat').optional(),
        timeout: dur('Silence after which the guardian acts').optional(),
        source: enumOf(HEARTBEAT_SOURCES, 'What counts as a sign of life: the heartbeat file, output, or either').optional(),
      },
      'Heartbeat monitoring',
    ).optional(),
    recovery: strict(
      {
        guardian: strict(
          {
            auto_invoke: z.boolean().describe('Recover stalled streams automatically').optional(),
            grace: dur('Between soft (SIGTERM) and hard (SIGKILL) recovery').optional(),
            max_restarts: z.int().min(0).describe('Restarts of a stalled stream before it fails').optional(),
            command: commandSchema.nullable().describe("A command run on a stall, with the stream's context").optional(),
            soft: z
              .enum(SOFT_SIGNALS)
              .describe(`The signal of soft recovery, sent to the stream's process group (default SIGTERM): ${SOFT_SIGNALS.join(' | ')}`)
              .optional(),
          },
          'The guardian that recovers stalled streams',
        ).optional(),
      },
      'Recovery settings',
    ).optional(),
    resources: resourcesSchema('Resource pools: name -> capacity (units)').optional(),
  },
  'Run-wide coordination settings',
);

const streamSchema = strict(
  {
    id: idSchema('Stream id'),
    command: commandSchema,
    depends_on: z.array(z.string()).describe('Stream ids or convergence point names to wait for').optional(),
    capabilities: z.array(z.string()).describe('Capabilities this stream registers').optional(),
    requires: z.array(z.string().min(1)).describe('Capabilities a `coord worker` must offer to run this stream (coord run --workers)').optional(),
    resources: resourcesSchema('Units of resource pools held while running').optional(),
    outputs: z.array(z.string()).describe('Globs (relative to the workspace) contributed at convergence; default: all').optional(),
    workspace: z.string().min(1).describe('An explicit workspace directory (relative to the plan)').optional(),
    base: z.string().min(1).describe('A directory whose contents seed the fresh workspace (relative to the plan)').optional(),
    isolation: enumOf(WORKSPACE_MODES, 'Workspace mode of this stream').optional(),
    convergence: enumOf(CONVERGENCE_TYPES, 'Convergence type this stream asks for').optional(),
    for_each: z
      .union([
        z.array(z.union([z.string(), z.number()])).min(1, { error: 'for_each needs at least one value' }),
        strict({ glob: z.string().min(1).describe('Files (relative to the plan) to map over') }, 'A glob of files'),
      ])
      .describe('Map: one stream <id>-<n> per value (or file), each with COORD_ITEM')
      .optional(),
    replicas: z.int().min(1).describe('Scatter: run this stream N times as <id>-<n> (COORD_REPLICA)').optional(),
    gather: enumOf(GATHER_MODES, 'How replicas are gathered: first success (the rest stopped), all, or vote (the result a majority agrees on)').optional(),
    priority: z.int().describe('Higher starts first among ready streams and is served first by resource pools (default 0)').optional(),
    resume_from: z.literal('checkpoint').describe("A guardian restart is seeded from the stream's last checkpoint").optional(),
    timeout: dur('Wall-clock limit of one attempt').optional(),
    retries: z.int().min(0).describe('Extra attempts after a non-zero exit').optional(),
    env: z
      .record(
        z.string().regex(ENV_NAME_PATTERN, { error: (iss) => `bad environment variable name ${JSON.stringify(iss.input)}` }),
        z.union([z.string(), z.number(), z.boolean()], {
          error: 'an environment value must be a string, number or boolean',
        }),
      )
      .describe('Extra environment variables')
      .optional(),
  },
  'A stream: one command run in its own workspace',
);

/** The whole plan document. */
export const planSchema = strict(
  {
    version: z.literal(1).describe('Plan format version (1)').optional(),
    name: z.string().describe('Plan name').optional(),
    stream_configuration: strict(
      {
        base: z.string().min(1).describe('Default base directory of every stream (relative to the plan)').optional(),
        coordination: coordinationSchema.optional(),
      },
      "Defaults for every stream (the original design's template)",
    ).optional(),
    agent_coordination: agentCoordinationSchema.optional(),
    streams: z.array(streamSchema).min(1, { error: 'at least one stream is required' }).describe('The streams to run'),
  },
  'A coord plan',
);

/** The raw document as written (after validation). */
export type PlanDocument = z.input<typeof planSchema>;
/** One raw stream entry. */
export type StreamDocument = PlanDocument['streams'][number];
/** One raw convergence point entry. */
export type PointDocument = NonNullable<NonNullable<PlanDocument['agent_coordination']>['convergence_points']>[number];

/** The field names of the strict object found at `path` in the plan schema (for typo hints). */
export function fieldsAt(path: readonly PropertyKey[]): readonly string[] {
  let s: z.ZodType = planSchema;
  const unwrap = (t: z.ZodType): z.ZodType => {
    let cur = t;
    for (let i = 0; i < 10; i++) {
      if (cur instanceof z.ZodOptional || cur instanceof z.ZodNullable) cur = cur.unwrap() as z.ZodType;
      else break;
    }
    return cur;
  };
  for (const seg of path) {
    s = unwrap(s);
    if (s instanceof z.ZodObject && typeof seg === 'string') {
      const next = (s.shape as Record<string, z.ZodType | undefined>)[seg];
      if (!next || !Object.hasOwn(s.shape, seg)) return [];
      s = next;
    } else if (s instanceof z.ZodArray && typeof seg === 'number') {
      s = s.element as z.ZodType;
    } else return [];
  }
  s = unwrap(s);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}
