/**
 * Backend URLs, as given to `--backend` or in COORD_BACKEND: today only
 * `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]` (port 6379 and database 0 by default).
 * Errors name where the value came from and what is wrong with it, and never show a password.
 */

export interface RedisBackendUrl {
  kind: 'redis';
  host: string;
  port: number;
  db: number;
  /** The URL to connect with, normalised (`redis://HOST:PORT/DB`, with the credentials when given). */
  url: string;
  /** Without credentials (and without `/0`): what messages show. */
  display: string;
  username?: string;
  password?: string;
}

export type BackendUrl = RedisBackendUrl;

const FORM = 'redis://HOST[:PORT][/DB]';
const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
const MAX_DB = 2 ** 31 - 1;

/** `text` with the password (between `:` and `@` after the scheme) replaced by `***`. */
function masked(text: string): string {
  return text.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^@/]*?:)[^@/]*@/, '$1***@');
}

function decode(part: string, what: string, fail: (why: string) => Error): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw fail(`bad percent-encoding in the ${what}`);
  }
}

/** Parses a backend URL; `where` names its source in errors (e.g. `--backend`, `COORD_BACKEND`). */
export function parseBackendUrl(text: string, where: string): BackendUrl {
  const shown = typeof text === 'string' ? masked(text.trim()) : String(text);
  const fail = (why: string): Error => new Error(`${where}: "${shown}" is not a backend URL: ${why} (expected ${FORM})`);
  if (typeof text !== 'string' || text.trim() === '') throw fail('it is empty');
  const input = text.trim();

  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(input);
  if (!scheme) throw fail('it has no scheme');
  const name = scheme[1]!.toLowerCase();
  if (name === 'rediss') throw fail('TLS (rediss://) is not supported');
  if (name !== 'redis') throw fail(`unknown scheme "${scheme[1]}:"`);
  let rest = input.slice(scheme[0].length);
  if (!rest.startsWith('//')) throw fail('"redis:" must be followed by "//"');
  rest = rest.slice(2);
  if (/[?#]/.test(rest)) throw fail('query strings and fragments are not supported');
  if (/\s/.test(rest)) throw fail('it contains white space');

  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash + 1);

  const at = authority.lastIndexOf('@');
  let username: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const info = authority.slice(0, at);
    const colon = info.indexOf(':');
    const user = colon < 0 ? info : info.slice(0, colon);
    if (user !== '') username = decode(user, 'user name', fail);
    if (colon >= 0) password = decode(info.slice(colon + 1), 'password', fail);
    if (username === undefined && password === undefined) throw fail('an "@" without a user name or password');
  }
  const hostPort = authority.slice(at + 1);

  let host: string;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) throw fail('an IPv6 address without its closing "]"');
    host = hostPort.slice(1, close);
    if (!IPV6.test(host)) throw fail(`bad IPv6 address "${host}"`);
    const after = hostPort.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw fail(`unexpected "${after}" after the host`);
    if (after !== '') portText = after.slice(1);
  } else {
    const colon = hostPort.indexOf(':');
    if (colon >= 0 && hostPort.indexOf(':', colon + 1) >= 0) throw fail('too many ":" (write an IPv6 address in brackets: redis://[::1]:6379)');
    host = colon < 0 ? hostPort : hostPort.slice(0, colon);
    if (colon >= 0) portText = hostPort.slice(colon + 1);
    if (host === '') throw fail('no host');
    if (!HOST_NAME.test(host)) throw fail(`bad host "${host}"`);
  }

  let port = 6379;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw fail(portText === '' ? 'an empty port after ":"' : `bad port "${portText}" (a number from 1 to 65535)`);
    }
    port = Number(portText);
  }

  let db = 0;
  if (path !== '') {
    if (!/^\d{1,10}$/.test(path) || Number(path) > MAX_DB) throw fail(`bad database "${path}" (a number from 0, as in redis://localhost:6379/2)`);
    db = Number(path);
  }

  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const display = `redis://${hostInUrl}:${port}${db === 0 ? '' : `/${db}`}`;
  const credentials =
    username === undefined && password === undefined
      ? ''
      : `${encodeURIComponent(username ?? '')}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@`;
  return {
    kind: 'redis',
    host,
    port,
    db,
    url: `redis://${credentials}${hostInUrl}:${port}/${db}`,
    display,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
}
