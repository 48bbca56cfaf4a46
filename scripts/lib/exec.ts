// Running build commands with their whole output in a log file, and one progress line per step.
import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs'
import path from 'node:path'

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
      child.on('error', reject)
      child.on('close', resolve)
    })
    if (code !== 0) throw new CommandError(`'${argv.slice(0, 3).join(' ')} ...' failed (exit ${code}); the full output is in ${opts.log}`)
  } finally {
    closeSync(fd)
  }
}

export function formatDuration(ms: number): string {
  const s = ms / 1000
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`
}

// Prints "<label> <step> ... <duration>" for each step, so that long builds show where they are.
export class Progress {
  constructor(private readonly label: string, private readonly out: (line: string) => void = (l) => process.stderr.write(`${l}\n`)) {}

  async step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    const started = Date.now()
    try {
      const result = await fn()
      this.out(`[${this.label}] ${name.padEnd(34)} ${formatDuration(Date.now() - started)}`)
      return result
    } catch (err) {
      this.out(`[${this.label}] ${name.padEnd(34)} FAILED after ${formatDuration(Date.now() - started)}`)
      throw err
    }
  }

  note(line: string): void {
    this.out(`[${this.label}] ${line}`)
  }
}
