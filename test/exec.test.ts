// The build-command runner: logs land in the named file even when its directory does not exist yet
// (a fresh clone has no build/logs/: CI once failed on exactly that), and a failure names the log.
import test from 'ava'
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CommandError, runLogged } from '../scripts/lib/exec.ts'

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
