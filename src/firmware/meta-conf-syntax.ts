/**
 * A reader for the libconfuse syntax fwup writes meta.conf in. It produces a small syntax tree; the
 * meaning of options (types, which are known) is applied in meta-conf.ts.
 */

/** A string value as written (quoted or bare). */
export interface ConfString {
  value: string;
  quoted: boolean;
}

/** One statement of a libconfuse file. */
export type ConfStatement =
  | { kind: 'assign'; name: string; append: boolean; list: boolean; values: ConfString[]; line: number }
  | { kind: 'call'; name: string; args: ConfString[]; line: number }
  | { kind: 'section'; name: string; title: ConfString | undefined; body: ConfStatement[]; line: number };

/** Raised for text libconfuse would not parse. */
export class ConfSyntaxError extends Error {
  constructor(message: string, readonly line: number) {
    super(`${message} (line ${line})`);
    this.name = 'ConfSyntaxError';
  }
}

type Token =
  | { type: 'str'; value: string; quoted: boolean; line: number }
  | { type: '{' | '}' | '(' | ')' | '=' | '+=' | ','; line: number };

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', r: '\r', b: '\b', f: '\f', a: '\x07', e: '\x1b', t: '\t', v: '\v' };
// Characters that end a bare (unquoted) string in libconfuse.
const BARE_STOP = new Set([' ', '#', '"', "'", '\t', '\n', '\r', '=', '{', '}', '(', ')', '+', ',', '*']);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new ConfSyntaxError('unterminated comment', line);
      for (let k = i; k < end; k++) if (text[k] === '\n') line++;
      i = end + 2;
    } else if (c === '+' && text[i + 1] === '=') {
      tokens.push({ type: '+=', line });
      i += 2;
    } else if (c === '{' || c === '}' || c === '(' || c === ')' || c === '=' || c === ',') {
      tokens.push({ type: c, line });
      i++;
    } else if (c === '"') {
      const start = line;
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw new ConfSyntaxError('unterminated string constant', start);
        const d = text[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\n') line++;
        if (d !== '\\') {
          value += d;
          i++;
          continue;
        }
        const e = text[i + 1];
        if (e === undefined) throw new ConfSyntaxError('unterminated string constant', start);
        if (e === '\n') {
          line++;
          i += 2;
        } else if (/[0-7]/.test(e)) {
          const digits = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4))![0];
          const code = parseInt(digits, 8);
          if (code > 0xff) throw new ConfSyntaxError(`invalid octal number '\\${digits}'`, line);
          if (/[0-9]/.test(text[i + 1 + digits.length] ?? '')) {
            throw new ConfSyntaxError('bad escape sequence', line);
          }
          value += String.fromCharCode(code);
          i += 1 + digits.length;
        } else if (/[89]/.test(e)) {
          throw new ConfSyntaxError('bad escape sequence', line);
        } else if (e === 'x' && /[0-9A-Fa-f]/.test(text[i + 2] ?? '')) {
          const digits = /^[0-9A-Fa-f]{1,2}/.exec(text.slice(i + 2, i + 4))![0];
          value += String.fromCharCode(parseInt(digits, 16));
          i += 2 + digits.length;
        } else {
          value += SIMPLE_ESCAPES[e] ?? e;
          i += 2;
        }
      }
      tokens.push({ type: 'str', value, quoted: true, line: start });
    } else if (c === "'") {
      const start = line;
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw new ConfSyntaxError('unterminated string constant', start);
        const d = text[i]!;
        if (d === "'") {
          i++;
          break;
        }
        if (d === '\\' && text[i + 1] === '\n') {
          line++;
          i += 2;
        } else if (d === '\\' && (text[i + 1] === '\\' || text[i + 1] === "'")) {
          value += text[i + 1];
          i += 2;
        } else {
          if (d === '\n') line++;
          value += d;
          i++;
        }
      }
      tokens.push({ type: 'str', value, quoted: true, line: start });
    } else if (BARE_STOP.has(c)) {
      // libconfuse silently drops characters no rule matches (e.g. a lone '+' or '*').
      i++;
    } else {
      let j = i;
      while (j < n && !BARE_STOP.has(text[j]!)) {
        if (text[j] === '/' && (text[j + 1] === '/' || text[j + 1] === '*') && j > i) break;
        j++;
      }
      tokens.push({ type: 'str', value: text.slice(i, j), quoted: false, line });
      i = j;
    }
  }
  return tokens;
}

/**
 * Parses libconfuse text into statements.
 * @throws ConfSyntaxError on anything libconfuse would reject syntactically
 */
export function parseConf(text: string): ConfStatement[] {
  const tokens = tokenize(text);
  let at = 0;
  const peek = (): Token | undefined => tokens[at];
  const lastLine = (): number => tokens[tokens.length - 1]?.line ?? 1;
  const expectString = (what: string): ConfString => {
    const token = tokens[at++];
    if (!token || token.type !== 'str') throw new ConfSyntaxError(`expected ${what}`, token?.line ?? lastLine());
    return { value: token.value, quoted: token.quoted };
  };

  const parseValues = (): { list: boolean; values: ConfString[] } => {
    const token = peek();
    if (token?.type !== '{') return { list: false, values: [expectString('a value')] };
    at++;
    const values: ConfString[] = [];
    if (peek()?.type === '}') {
      at++;
      return { list: true, values };
    }
    for (;;) {
      values.push(expectString('a list item'));
      const next = tokens[at++];
      if (next?.type === '}') return { list: true, values };
      if (next?.type !== ',') throw new ConfSyntaxError("expected ',' or '}' in list", next?.line ?? lastLine());
    }
  };

  const parseBody = (depth: number): ConfStatement[] => {
    const body: ConfStatement[] = [];
    for (;;) {
      const token = peek();
      if (!token) {
        if (depth > 0) throw new ConfSyntaxError("missing '}'", lastLine());
        return body;
      }
      if (token.type === '}') {
        if (depth === 0) throw new ConfSyntaxError("unexpected '}'", token.line);
        at++;
        return body;
      }
      if (token.type !== 'str') throw new ConfSyntaxError(`unexpected '${token.type}'`, token.line);
      at++;
      const name = token.value;
      const next = tokens[at++];
      if (next?.type === '=' || next?.type === '+=') {
        const { list, values } = parseValues();
        body.push({ kind: 'assign', name, append: next.type === '+=', list, values, line: token.line });
      } else if (next?.type === '(') {
        const args: ConfString[] = [];
        if (peek()?.type === ')') at++;
        else {
          for (;;) {
            args.push(expectString('a function argument'));
            const sep = tokens[at++];
            if (sep?.type === ')') break;
            if (sep?.type !== ',') throw new ConfSyntaxError("expected ',' or ')'", sep?.line ?? lastLine());
          }
        }
        body.push({ kind: 'call', name, args, line: token.line });
      } else if (next?.type === '{') {
        body.push({ kind: 'section', name, title: undefined, body: parseBody(depth + 1), line: token.line });
      } else if (next?.type === 'str' && peek()?.type === '{') {
        at++;
        const title = { value: next.value, quoted: next.quoted };
        body.push({ kind: 'section', name, title, body: parseBody(depth + 1), line: token.line });
      } else {
        throw new ConfSyntaxError(`unexpected token after '${name}'`, next?.line ?? lastLine());
      }
    }
  };

  return parseBody(0);
}
