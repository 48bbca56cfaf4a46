// Typed, path-aware access to parsed YAML: every accessor checks one field and, when it is
// wrong, throws an error that names the field by its full path and says what was expected.

export class ValidationError extends Error {
  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}

type ErrorClass = new (message: string) => Error

export function check(condition: boolean, Err: ErrorClass, message: string): asserts condition {
  if (!condition) throw new Err(message)
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return `${typeof value} ${JSON.stringify(value)}`
}

export class Fields {
  constructor(
    private readonly value: unknown,
    private readonly source: string,
    private readonly Err: ErrorClass,
    private readonly base = '',
  ) {
    if (base === '') this.expect(isMapping(value), '', `the document must be a mapping, got ${describe(value)}`)
  }

  private path(key: string): string {
    return [this.base, key].filter(Boolean).join('.')
  }

  private expect(condition: boolean, key: string, message: string): asserts condition {
    check(condition, this.Err, `${this.source}: ${this.path(key) || '(top level)'}: ${message}`)
  }

  require(condition: boolean, key: string, message: string): void {
    this.expect(condition, key, message)
  }

  get(key: string): unknown {
    let node: unknown = this.value
    for (const part of key.split('.')) node = isMapping(node) ? node[part] : undefined
    return node
  }

  str(key: string, pattern?: RegExp): string {
    const v = this.get(key)
    this.expect(typeof v === 'string' && v.trim() !== '', key, `expected a non-empty string, got ${describe(v)}`)
    if (pattern) this.expect(pattern.test(v), key, `'${v}' does not match ${pattern}`)
    return v
  }

  optionalStr(key: string, pattern?: RegExp): string | undefined {
    return this.get(key) === undefined ? undefined : this.str(key, pattern)
  }

  int(key: string, min: number, max: number): number {
    const v = this.get(key)
    this.expect(Number.isInteger(v), key, `expected an integer, got ${describe(v)}`)
    this.expect((v as number) >= min && (v as number) <= max, key, `${v} is outside ${min}..${max}`)
    return v as number
  }

  bool(key: string): boolean {
    const v = this.get(key)
    this.expect(typeof v === 'boolean', key, `expected true or false, got ${describe(v)}`)
    return v
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const v = this.get(key)
    this.expect(allowed.includes(v as T), key, `expected one of ${allowed.join(', ')}, got ${describe(v)}`)
    return v as T
  }

  absent(key: string, why: string): undefined {
    this.expect(this.get(key) === undefined, key, `must not be set: ${why}`)
    return undefined
  }

  list(key: string): Fields[] {
    const v = this.get(key)
    this.expect(Array.isArray(v) && v.length > 0, key, `expected a non-empty list, got ${describe(v)}`)
    return v.map((item, i) => this.item(item, `${this.path(key)}[${i}]`))
  }

  optionalList(key: string): Fields[] {
    return this.get(key) === undefined ? [] : this.list(key)
  }

  strings(key: string, pattern?: RegExp): string[] {
    return this.list(key).map((item) => item.self(pattern))
  }

  entries(key: string): [string, Fields][] {
    const v = this.get(key)
    this.expect(isMapping(v) && Object.keys(v).length > 0, key, `expected a non-empty mapping, got ${describe(v)}`)
    return Object.entries(v).map(([k, item]) => [k, this.item(item, this.path(`${key}.${k}`))])
  }

  private item(item: unknown, path: string): Fields {
    return new Fields(item, this.source, this.Err, path)
  }

  private self(pattern?: RegExp): string {
    const v = this.value
    check(typeof v === 'string' && (!pattern || pattern.test(v)), this.Err,
      `${this.source}: ${this.base}: expected a string${pattern ? ` matching ${pattern}` : ''}, got ${describe(v)}`)
    return v
  }

  mapping(key: string): Fields {
    const v = this.get(key)
    this.expect(isMapping(v), key, `expected a mapping, got ${describe(v)}`)
    return this.item(v, this.path(key))
  }
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
