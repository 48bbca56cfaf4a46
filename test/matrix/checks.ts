// The checks the tests and the matrix share. A Check is what an AVA `t` offers, so a scenario runs
// as an AVA test or as a matrix row (where a collector records each assertion for the report).
export interface Check {
  true(condition: boolean, message?: string): void
  is<T>(actual: T, expected: T, message?: string): void
  regex(text: string, re: RegExp, message?: string): void
}

export interface Assertion {
  name: string
  ok: boolean
  detail?: string
}

// Records every assertion instead of stopping at the first failure. `context` gives what a
// failure's detail adds (the stderr of the command whose output was checked).
export class Collector implements Check {
  readonly assertions: Assertion[] = []

  constructor(private readonly context: () => string = () => '') {}

  private failure(detail: string): string {
    const context = this.context().trim()
    return context ? `${detail}; stderr: ${context.slice(-400)}` : detail
  }

  true(condition: boolean, message = 'expected true'): void {
    this.assertions.push({ name: message, ok: condition, detail: condition ? undefined : this.failure('false') })
  }

  is<T>(actual: T, expected: T, message = 'values are equal'): void {
    const ok = JSON.stringify(actual) === JSON.stringify(expected)
    this.assertions.push({ name: message, ok, detail: ok ? undefined : this.failure(`got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`) })
  }

  regex(text: string, re: RegExp, message = `matches ${re}`): void {
    const ok = re.test(text)
    this.assertions.push({ name: message, ok, detail: ok ? undefined : this.failure(`${re} not found in: ${text.slice(-600)}`) })
  }

  get failed(): Assertion[] {
    return this.assertions.filter((a) => !a.ok)
  }
}
