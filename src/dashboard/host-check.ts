/**
 * A guard against DNS rebinding: a page on another site can point its own host name at 127.0.0.1 and then read the
 * dashboard's answers as same-origin. Its requests carry that foreign name in the Host header, so the dashboard
 * answers only Host names that can mean nothing but this machine: localhost names, IP literals (a rebinding needs a
 * name), the host it was bound to, and this machine's name when bound to every interface. A request without a Host
 * header (HTTP/1.0; never a browser) is answered.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';

/** The name of a Host header, without its port or brackets, lower case, without a trailing dot. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  const name = h.startsWith('[') ? h.slice(1, h.indexOf(']')) : h.replace(/:\d*$/, '');
  return name.replace(/\.$/, '');
}

/** Whether a request with this Host header may be answered by a server bound to `boundHost`. */
export function allowedHost(header: string | undefined, boundHost: string): boolean {
  if (header === undefined) return true;
  const name = hostName(header);
  if (name === 'localhost' || name.endsWith('.localhost') || isIP(name) !== 0) return true;
  const bound = hostName(boundHost.includes(':') && !boundHost.startsWith('[') ? `[${boundHost}]` : boundHost);
  if (name === bound) return true;
  return (bound === '0.0.0.0' || bound === '::') && name === hostname().toLowerCase();
}
