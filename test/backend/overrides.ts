/** Test doubles over a real object: some of its methods replaced, the rest bound to the object itself. */

/** `target` with the members of `over` in place of its own; every other method runs on `target` itself. */
export function withOverrides<T extends object>(target: T, over: Partial<T>): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      if (Object.hasOwn(over, prop)) return (over as Record<string | symbol, unknown>)[prop];
      const v = Reflect.get(t, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}
