// The build-command runner: logs land in the named file even when its directory does not exist yet
// (a fresh clone has no build/logs/: CI once failed on exactly that), and a failure names the log;
// the lock that keeps two proxy builds apart; the heartbeat of a long compile (objects done of total).
import test from 'ava'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CommandError, PlannedObjects, Progress, compiledObjects, runLogged, withLock } from '../scripts/lib/exec.ts'

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

// The shapes of OpenSSL's and HAProxy's compile lines; links and archives are not compiles.
test('compiledObjects takes the objects of compile commands only, once each', (t) => {
  const dryRun = [
    'gcc  -I. -Iinclude -fPIC -O3 -MMD -MF crypto/libcrypto-shlib-cpuid.d.tmp -c -o crypto/libcrypto-shlib-cpuid.o crypto/cpuid.c',
    '/opt/zig cc -target x86_64-linux-gnu.2.17 -Iinclude -O2 -DCONFIG_HAPROXY_VERSION=\\"3.0.11\\" -c -o src/slz.o src/slz.c',
    'gcc -c -o src/slz.o src/slz.c',
    'gcc -shared -o libcrypto.so.3 crypto/libcrypto-shlib-cpuid.o',
    'ld -r -o src/all.o src/a.o src/b.o',
    'ar r libcrypto.a crypto/libcrypto-lib-cpuid.o',
  ].join('\n')
  t.deepEqual(compiledObjects(dryRun), ['crypto/libcrypto-shlib-cpuid.o', 'src/slz.o'])
})

test('PlannedObjects reads make\'s dry run and counts the objects that exist so far', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'planned-'))
  writeFileSync(path.join(dir, 'Makefile'), 'OBJS = a.o sub/b.o c.o\nprog: $(OBJS)\n\tcc -o $@ $(OBJS)\n%.o: %.c\n\tcc -c -o $@ $<\n')
  mkdirSync(path.join(dir, 'sub'))
  for (const c of ['a.c', 'sub/b.c', 'c.c']) writeFileSync(path.join(dir, c), '')
  const planned = await PlannedObjects.of(['make', 'prog'], { cwd: dir })
  t.deepEqual(planned.objects, ['a.o', 'sub/b.o', 'c.o'])
  t.is(planned.status(), '0/3 objects')
  writeFileSync(path.join(dir, 'sub', 'b.o'), '')
  t.is(planned.status(), '1/3 objects')
  t.false(existsSync(path.join(dir, 'prog')), 'a dry run builds nothing')
  await t.throwsAsync(PlannedObjects.of(['sh', '-c', 'make'], { cwd: dir }), { message: /reads make's dry run, not sh's/ })
})

test('Progress.step with a heartbeat prints the time so far and the status while it runs, then stops', async (t) => {
  const lines: string[] = []
  let done = 0
  const progress = new Progress('proxy x86_64', (l) => lines.push(l))
  await progress.step('openssl: make', () => new Promise((r) => setTimeout(r, 130)), { status: () => `${++done}/9 objects`, everyMs: 50 })
  const beats = lines.filter((l) => / so far /.test(l))
  t.true(beats.length >= 1 && beats.length <= 3, lines.join('\n'))
  for (const l of beats) t.regex(l, /^\[proxy x86_64\] openssl: make +\d+\.\ds so far \(\d\/9 objects\)$/)
  t.regex(lines.at(-1)!, /^\[proxy x86_64\] openssl: make +\d+\.\ds \(\d\/9 objects\)$/, 'the closing line has the last count')
  const count = lines.length
  await new Promise((r) => setTimeout(r, 120))
  t.is(lines.length, count, 'no line after the step ended')
  await t.throwsAsync(progress.step('fails', () => Promise.reject(new Error('boom')), { status: () => '3/9 objects', everyMs: 1000 }))
  t.regex(lines.at(-1)!, /fails +FAILED after \d+\.\ds \(3\/9 objects\)$/)
})
