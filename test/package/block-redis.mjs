// `node --import ./block-redis.mjs …`: a module resolve hook (module.register) under which any
// import of ioredis or BullMQ, by name or by a path inside their folders, fails. An entry point
// that imports them eagerly then fails to load; one that loads them lazily loads.
import { register } from 'node:module';

const hooks = `
const blocked = /^(ioredis|bullmq)(\\/|$)/;
const inside = /[\\\\/]node_modules[\\\\/](ioredis|bullmq)[\\\\/]/;
export async function resolve(specifier, context, next) {
  if (blocked.test(specifier)) throw new Error('blocked import of ' + specifier + ' from ' + context.parentURL);
  const r = await next(specifier, context);
  if (inside.test(decodeURIComponent(r.url))) throw new Error('blocked import of ' + r.url + ' from ' + context.parentURL);
  return r;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
