// Running build commands with their whole output in a log file, and one progress line per step.
import { execFile, spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'

export class CommandError extends Error {}

export interface RunOptions {
  cwd: string
  env?: NodeJS.ProcessEnv
  log: string
}

// Runs argv (no shell), appending stdout and stderr to the log (its directory created if missing: a fresh
// clone has no build/logs/); throws naming the log on failure.
export async function runLogged(argv: string[], opts: RunOptions): Promise<void> {
  mkdirSync(path.dirname(opts.log), { recursive: true })
  const fd = openSync(opts.log, 'a')
  writeSync(fd, `\n$ (cd ${opts.cwd} && ${argv.join(' ')})\n`)
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', fd, fd] })
      // A command that is not installed: its name, not `spawn X ENOENT` (make's tool check names the package).
      child.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new CommandError(`${argv[0]} is not installed or not on PATH (make deps installs every tool the build runs)`) : err))
      child.on('close', resolve)
    })
    if (code !== 0) throw new CommandError(`'${argv.slice(0, 3).join(' ')} ...' failed (exit ${code}); the full output is in ${opts.log}`)
  } finally {
    closeSync(fd)
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// Runs fn holding the lock file (its content: our pid). A lock held by a live process is an error
// naming it (two builds in one work tree clobber each other); a dead holder's lock is taken over.
export async function withLock<T>(file: string, what: string, fn: () => Promise<T>): Promise<T> {
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8'))
    if (pid && pid !== process.pid && processAlive(pid)) throw new Error(`${what} is already running (pid ${pid}, lock ${file}): wait for it to end`)
  }
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, String(process.pid))
  try {
    return await fn()
  } finally {
    rmSync(file, { force: true })
  }
}

export function formatDuration(ms: number): string {
  const s = ms / 1000
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`
}

// While a long step runs: one line every `everyMs` (default 30 s) with the time so far and what
// status() says (e.g. "640/1130 objects"), so that a CI log shows a 5-minute compile moving
// without a line per file.
export interface Heartbeat {
  status: () => string
  everyMs?: number
}

// Prints "<label> <step> ... <duration>" for each step, so that long builds show where they are.
export class Progress {
  constructor(private readonly label: string, private readonly out: (line: string) => void = (l) => process.stderr.write(`${l}\n`)) {}

  async step<T>(name: string, fn: () => Promise<T> | T, heartbeat?: Heartbeat): Promise<T> {
    const started = Date.now()
    const line = (what: string) => this.out(`[${this.label}] ${name.padEnd(34)} ${what}`)
    const status = () => (heartbeat ? ` (${heartbeat.status()})` : '')
    const timer = heartbeat && setInterval(() => line(`${formatDuration(Date.now() - started)} so far${status()}`), heartbeat.everyMs ?? 30_000)
    try {
      const result = await fn()
      line(`${formatDuration(Date.now() - started)}${status()}`)
      return result
    } catch (err) {
      line(`FAILED after ${formatDuration(Date.now() - started)}${status()}`)
      throw err
    } finally {
      clearInterval(timer)
    }
  }

  note(line: string): void {
    this.out(`[${this.label}] ${line}`)
  }
}

// The object files a make command will compile, read from its dry run (`make -n`, the same
// arguments), and how many of them exist so far: a long compile's heartbeat, "objects done of
// total". Counted in the tree, not in make's output, so it needs no change to the build's own
// output and is right whatever make prints.
export class PlannedObjects {
  private constructor(private readonly cwd: string, readonly objects: string[]) {}

  static async of(argv: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<PlannedObjects> {
    if (path.basename(argv[0]) !== 'make') throw new Error(`PlannedObjects reads make's dry run, not ${argv[0]}'s`)
    const { stdout } = await promisify(execFile)(argv[0], ['-n', ...argv.slice(1)], { cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 256 * 1024 * 1024 })
    return new PlannedObjects(opts.cwd, compiledObjects(stdout))
  }

  done(): number {
    return this.objects.filter((o) => existsSync(path.resolve(this.cwd, o))).length
  }

  status(): string {
    return `${this.done()}/${this.objects.length} objects`
  }
}

// The outputs of the compile commands (`... -c ... -o X.o ...`) among the commands of a dry run.
export function compiledObjects(dryRun: string): string[] {
  const objects = dryRun
    .split('\n')
    .filter((l) => /\s-c(\s|$)/.test(l))
    .map((l) => l.match(/\s-o\s+(\S+\.o)(\s|$)/)?.[1])
    .filter((o): o is string => o !== undefined)
  return [...new Set(objects)]
}
