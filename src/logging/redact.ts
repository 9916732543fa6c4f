/**
 * Returns `url` without its query string and fragment, and without user info, for logs:
 * presigned firmware URLs carry their credentials in the query.
 *
 * @example
 * ```ts
 * redactUrl('https://s3.example.com/fw.fw?X-Amz-Signature=abc'); // 'https://s3.example.com/fw.fw?…'
 * ```
 * @category Errors and logging
 */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(String(url));
    const q = u.search ? '?…' : '';
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return `${u.toString()}${q}`;
  } catch {
    return '<unparseable url>';
  }
}
