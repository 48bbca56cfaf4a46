// The build-command runner: logs land in the named file even when its directory does not exist yet
// (a fresh clone has no build/logs/: CI once failed on exactly that), and a failure names the log;
// the lock that keeps two proxy builds apart.
import test from 'ava'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CommandError, runLogged, withLock } from '../scripts/lib/exec.ts'

test('runLogged creates the log directory and appends the command and its output', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'exec-'))
  const log = path.join(root, 'build', 'logs', 'step.log')
  await runLogged(['sh', '-c', 'echo out; echo err >&2'], { cwd: root, log })
  const text = readFileSync(log, 'utf8')
  t.regex(text, /\$ \(cd .* && sh -c echo out; echo err >&2\)/)
  t.regex(text, /^out$/m)
  t.regex(text, /^err$/m)
})

test('runLogged throws a CommandError naming the exit code and the log', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'exec-'))
  const log = path.join(root, 'logs', 'fail.log')
  const error = await t.throwsAsync(runLogged(['sh', '-c', 'exit 3'], { cwd: root, log }), { instanceOf: CommandError })
  t.true(error!.message.includes('exit 3') && error!.message.includes(log), error!.message)
})

// Two proxy builds in one work tree clobbered each other: the second is refused while the first runs.
test('withLock refuses while a live process holds the lock, takes over a dead one, and releases it', async (t) => {
  const lock = path.join(mkdtempSync(path.join(os.tmpdir(), 'lock-')), 'build', 'proxy.lock')
  const holder = spawn('sleep', ['30'])
  t.teardown(() => holder.kill())
  mkdirSync(path.dirname(lock), { recursive: true })
  writeFileSync(lock, String(holder.pid))
  await t.throwsAsync(withLock(lock, 'another make proxy', async () => 'ran'), { message: `another make proxy is already running (pid ${holder.pid}, lock ${lock}): wait for it to end` })
  holder.kill()
  await new Promise((r) => holder.on('exit', r))
  t.is(await withLock(lock, 'another make proxy', async () => readFileSync(lock, 'utf8')), String(process.pid), 'a dead holder\'s lock is taken over')
  t.false(existsSync(lock), 'released')
})

test('runLogged: a command that is not installed is named, never spawn ENOENT', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'exec-enoent-'))
  const err = await t.throwsAsync(runLogged(['no-such-tool-fixture', '--version'], { cwd: dir, log: path.join(dir, 'log') }), { instanceOf: CommandError })
  t.is(err!.message, 'no-such-tool-fixture is not installed or not on PATH (make deps installs every tool the build runs)')
})
