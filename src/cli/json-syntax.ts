/**
 * Finds where a JSON text stops being JSON, as line and column. `JSON.parse` messages give an
 * offset only for some errors and quote the text for others (a `device.json` can hold a shared
 * secret), so the CLI locates the error itself and never echoes the file.
 */

/** Where and why a JSON text is invalid. Lines and columns count from 1. */
export interface JsonSyntaxProblem {
  line: number;
  column: number;
  /** What was expected there, e.g. `a property name in double quotes`. */
  expected: string;
}

class Stop extends Error {
  constructor(
    readonly offset: number,
    readonly expected: string,
  ) {
    super(expected);
  }
}

/** Returns the first syntax error of `text`, or undefined when it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxProblem | undefined {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (expected: string): never => {
    throw new Stop(i, expected);
  };
  const literal = (word: string): void => {
    if (text.slice(i, i + word.length) !== word) fail(`"${word}"`);
    i += word.length;
  };
  const string = (): void => {
    i++; // opening quote
    for (;;) {
      const ch = text[i];
      if (ch === undefined) fail('a closing " for this string');
      if (ch === '"') break;
      if (ch! < ' ') fail('no line break or control character inside a string (use \\n)');
      if (ch === '\\') {
        i++;
        const esc = text[i];
        if (esc === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail('four hex digits after \\u');
          i += 4;
        } else if (esc === undefined || !'"\\/bfnrt'.includes(esc)) fail('a valid escape (\\", \\\\, \\n, …)');
      }
      i++;
    }
    i++;
  };
  const number = (): void => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!match || match[0] === '' || match[0] === '-') fail('a value (string, number, object, list, true, false or null)');
    i += match![0].length;
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') return object();
    if (ch === '[') return array();
    if (ch === '"') return string();
    if (ch === 't') return literal('true');
    if (ch === 'f') return literal('false');
    if (ch === 'n') return literal('null');
    number();
  };
  const object = (): void => {
    i++;
    ws();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] !== '"') fail(text[i] === '}' ? 'another property (no comma before })' : 'a property name in double quotes');
      string();
      ws();
      if (text[i] !== ':') fail("':' after the property name");
      i++;
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return;
      }
      fail("',' or '}' after the property value");
    }
  };
  const array = (): void => {
    i++;
    ws();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] === ']') fail('another element (no comma before ])');
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return;
      }
      fail("',' or ']' after the list element");
    }
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) i = 1; // a byte order mark
    value();
    ws();
    if (i < text.length) fail('the end of the file after the JSON value');
    return undefined;
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    return { ...lineAndColumn(text, Math.min(error.offset, text.length)), expected: error.expected };
  }
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lastBreak = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - lastBreak };
}
