/** Marks a branch the type checker proves unreachable; adding a union case breaks the build here. */
export function assertNever(value: never, what = "value"): never {
  throw new Error(`Unexpected ${what}: ${JSON.stringify(value)}`);
}
