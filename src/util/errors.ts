/**
 * The base of an error class whose stable `code` callers branch on, with the `cause`
 * kept (STYLE.md, "Types and errors"): `class XError extends errorWithCode<XCode>('XError') {}`.
 * The name is given rather than read from the class so that logs say the same after a
 * build renames classes.
 */
export function errorWithCode<Code extends string>(name: string) {
  return class extends Error {
    readonly code: Code;
    constructor(code: Code, message: string, options?: ErrorOptions) {
      super(message, options);
      this.name = name;
      this.code = code;
    }
  };
}
