/**
 * The end of every `switch` over a union: with `x: never` the compiler proves each member has
 * its case, so a member added later fails the build at every switch that forgot it, and a
 * value that breaks the types at run time (JSON from outside) fails loudly instead of silently.
 */
export function unreachable(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}
