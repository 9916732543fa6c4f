/** Raw HTTP answers written on an upgrade socket (no `ServerResponse` exists there). */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** RFC 7231 date, as in the `Date` header. */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/**
 * Writes a complete HTTP/1.1 response and ends the socket. Every answer carries `Date` (the
 * client uses it as a clock hint for NH1 signing) and `connection: close`.
 */
export function writeRawResponse(socket: Duplex, status: number, nowMs: number, headers: Readonly<Record<string, string>> = {}, body = ''): void {
  if (socket.destroyed) return;
  const bodyBytes = Buffer.from(body, 'utf8');
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`,
    `date: ${httpDate(nowMs)}`,
    'cache-control: max-age=0, private, must-revalidate',
    'connection: close',
    `content-length: ${bodyBytes.length}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), bodyBytes]));
}
