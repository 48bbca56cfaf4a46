// The proxy at run time: the shipped package's HAProxy on its unmodified example config relays
// every product port to its upstream over FIPS-approved TLS with certificate verification, and
// refuses upstreams it must not trust. See test/helpers/relay-lab.ts for how the upstream names
// reach the FIXTURE intake (a private mount namespace with its own resolv.conf and CA bundle).
import test from 'ava'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { backendName, TLS12_CIPHERS, TLS13_SUITES } from '../scripts/lib/haproxy-config.ts'
import { loadProduct } from '../scripts/lib/product.ts'
import { type IntakeRecord } from './fixtures/intake.ts'
import { FixturePki, type LeafOptions } from './fixtures/pki.ts'
import { type LabOptions, RelayLab, upstreamHosts } from './helpers/relay-lab.ts'

const product = loadProduct()
const caBundle = product.packages.find((f) => f.kind === 'deb')!.caBundle
const relays = product.ports.services.filter((s) => s.kind === 'relay')
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

let pki: FixturePki
const labs: RelayLab[] = []
let lab: RelayLab

async function startLab(id: number, intake: LabOptions['intake']): Promise<RelayLab> {
  const started = await RelayLab.start(product, { id, intake, ca: pki.ca, caBundle })
  labs.push(started)
  return started
}

const leaf = (name: string, opts: Partial<LeafOptions> = {}) => pki.leaf(name, { hosts: upstreamHosts(product), ...opts })

test.before(async () => {
  pki = await FixturePki.create(mkdtempSync(path.join(os.tmpdir(), 'relay-pki-')))
  lab = await startLab(1, { cert: await leaf('intake') })
  await lab.waitForResolution()
})

test.after.always(async () => {
  await Promise.all(labs.map((l) => l.close()))
})

function recordFor(t: { fail(m: string): void }, l: RelayLab, requestPath: string): IntakeRecord {
  const found = l.intake!.records.filter((r) => r.path === requestPath)
  if (found.length !== 1) t.fail(`${found.length} requests with path ${requestPath} at the intake (expected 1)`)
  return found[0]
}

function assertApprovedTls(t: { true(v: boolean, m: string): void }, r: IntakeRecord): void {
  const approved = r.tls.protocol === 'TLSv1.3' ? TLS13_SUITES : r.tls.protocol === 'TLSv1.2' ? TLS12_CIPHERS : []
  t.true(approved.includes(r.tls.cipher), `${r.tls.protocol} ${r.tls.cipher} is a FIPS-approved choice of the config`)
}

for (const service of relays) {
  test.serial(`${service.port} (${service.name}) relays to ${service.upstream} with the body intact`, async (t) => {
    const body = randomBytes(32 * 1024)
    const requestPath = `/fixture/${service.name}`
    const reply = await lab.send(service.port, { path: requestPath, body })
    t.is(reply.status, 202, reply.body)
    const r = recordFor(t, lab, requestPath)
    t.like(r, { sni: service.upstream, host: service.upstream, method: 'POST', bytes: body.length, sha256: sha256(body) })
    assertApprovedTls(t, r)
  })
}

// Every request the Agent sends to each port (product.yaml agent_requests, from the Agent's
// source), with its method, path and body: it arrives at the upstream host of that path (SNI and
// Host), with that method, path and body. The expected host is computed here, independently of
// the config: the longest route prefix that is the path or a parent of it, else the port's upstream.
const expectedUpstream = (service: (typeof relays)[number], requestPath: string) => {
  const p = requestPath.split('?')[0]
  return service.routes.filter((r) => p === r.pathPrefix || p.startsWith(`${r.pathPrefix}/`)).sort((a, b) => b.pathPrefix.length - a.pathPrefix.length)[0]?.upstream ?? service.upstream
}

for (const service of relays) {
  for (const request of service.agentRequests) {
    const host = expectedUpstream(service, request.path)
    test.serial(`${service.port} (${service.name}): the Agent's ${request.method} ${request.path} reaches ${host}`, async (t) => {
      // A marker in the query string tells this request's record from every other one.
      const marker = `agent-path-${service.name}-${request.method}-${request.path.replace(/\W+/g, '-')}`
      const requestPath = `${request.path}${request.path.includes('?') ? '&' : '?'}marker=${marker}`
      const body = request.method === 'POST' ? randomBytes(2048) : undefined
      const reply = await lab.send(service.port, { method: request.method, path: requestPath, body })
      t.is(reply.status, 202, reply.body)
      t.like(recordFor(t, lab, requestPath), { sni: host, host, method: request.method, bytes: body?.length ?? 0, ...(body ? { sha256: sha256(body) } : {}) })
    })
  }
}

test.serial('a route takes a whole path segment: /support/flares is not a flare', async (t) => {
  const metrics = relays.find((s) => s.routes.some((r) => r.pathPrefix === '/support/flare'))!
  const reply = await lab.send(metrics.port, { path: '/support/flares', body: randomBytes(16) })
  t.is(reply.status, 202)
  t.like(recordFor(t, lab, '/support/flares'), { sni: metrics.upstream, host: metrics.upstream })
})

// A TLS client on a port of agent_tls, as the trace-agent reaches the telemetry port: whether it
// got a TLS session, and how the connection ended.
function tlsAttempt(host: string, port: number): Promise<{ secure: boolean; ended: string }> {
  return new Promise((resolve) => {
    let secure = false
    const socket = tls.connect({ host, port, servername: 'localhost', rejectUnauthorized: false }, () => (secure = true))
    socket.on('error', (e) => resolve({ secure, ended: e.message }))
    socket.on('close', () => resolve({ secure, ended: 'closed' }))
  })
}

for (const service of relays.filter((s) => s.agentTls)) {
  test.serial(`${service.port} (${service.name}): a TLS client is refused with one notice log line saying why; plain HTTP still relays`, async (t) => {
    const attempt = await tlsAttempt(lab.address, service.port)
    t.false(attempt.secure, 'no TLS session')
    const logged = await lab.waitForLog(new RegExp(`^<5>${service.product}: refused a TLS connection from [\\d.]+:\\d+ to ${lab.address.replace(/\./g, '\\.')}:${service.port}: `), 10_000)
    t.true(logged.endsWith(service.agentTls!), logged)
    t.regex(logged, /trace-agent forces https/)
    t.is(lab.log.filter((l) => l.includes('refused a TLS connection')).length, 1, 'one line per refusal')
    t.is(lab.intake!.records.filter((r) => r.sni === service.upstream && r.path === '/').length, 0, 'nothing of it reached the intake')
    const body = randomBytes(1024)
    const requestPath = `/fixture/${service.name}-after-tls`
    const reply = await lab.send(service.port, { path: requestPath, body })
    t.is(reply.status, 202, reply.body)
    t.like(recordFor(t, lab, requestPath), { sni: service.upstream, host: service.upstream, sha256: sha256(body) })
  })
}

// fips.local_address: ::1 (the install script gives the proxy the Agent's address through
// DD_FIPS_LOCAL_ADDRESS, unbracketed): HAProxy listens on [::1] only, and relays.
test('DD_FIPS_LOCAL_ADDRESS=::1: every listener on [::1], relaying to its upstream', async (t) => {
  const start = product.ports.rangeStart + 2000
  const v6 = await RelayLab.start(product, { id: 8, intake: { cert: await leaf('v6') }, ca: pki.ca, caBundle, portRangeStart: start, address: '::1' })
  labs.push(v6)
  await v6.waitForResolution()
  t.deepEqual([...await v6.listeners()].sort(), product.ports.services.map((s) => `[::1]:${start + s.offset}`).sort())
  const metrics = relays.find((s) => s.name === 'metrics')!
  const reply = await v6.send(start + metrics.offset, { path: '/fixture/v6', body: randomBytes(1024) })
  t.is(reply.status, 202, reply.body)
  t.like(recordFor(t, v6, '/fixture/v6'), { sni: metrics.upstream, host: metrics.upstream })
})

test(`${product.ports.rangeStart} serves the HAProxy stats page`, async (t) => {
  const reply = await lab.send(product.ports.rangeStart, { method: 'GET' })
  t.is(reply.status, 200)
  t.regex(reply.body, /Statistics Report/)
})

for (const service of product.ports.services.filter((s) => s.kind === 'reserved')) {
  test(`${service.port} (${service.name}) is held by the proxy and answers 404 without relaying`, async (t) => {
    const reply = await lab.send(service.port, { method: 'GET', path: '/reserved-probe' })
    t.is(reply.status, 404)
    t.is(lab.intake!.records.filter((r) => r.path === '/reserved-probe').length, 0)
  })
}

test('the proxy listens on exactly the port range, on loopback only', async (t) => {
  const listeners = await lab.listeners()
  const expected = product.ports.services.map((s) => `${lab.address}:${s.port}`).sort()
  t.deepEqual([...listeners].sort(), expected)
  t.true(listeners.every((l) => l.startsWith('127.')), listeners.join(' '))
})

test.serial('a 10 MB body arrives intact', async (t) => {
  const body = randomBytes(10 * 1024 * 1024)
  const reply = await lab.send(lab.port('logs'), { path: '/fixture/large', body })
  t.is(reply.status, 202, reply.body)
  t.like(recordFor(t, lab, '/fixture/large'), { bytes: body.length, sha256: sha256(body), chunked: false })
})

test.serial('a chunked upload arrives intact, still chunked', async (t) => {
  const body = randomBytes(1024 * 1024 + 17)
  const reply = await lab.send(lab.port('traces'), { path: '/fixture/chunked', body, chunked: true })
  t.is(reply.status, 202, reply.body)
  t.like(recordFor(t, lab, '/fixture/chunked'), { bytes: body.length, sha256: sha256(body), chunked: true })
})

test.serial('keep-alive: five requests on one agent connection reuse the upstream connections', async (t) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const replies = []
  for (let i = 0; i < 5; i++) replies.push(await lab.send(lab.port('metrics'), { path: `/fixture/keepalive-${i}`, body: randomBytes(1024), agent }))
  agent.destroy()
  t.deepEqual(replies.map((r) => r.status), [202, 202, 202, 202, 202])
  t.deepEqual(replies.map((r) => r.reusedSocket), [false, true, true, true, true], 'the proxy kept the agent connection open')
  const connections = new Set(replies.map((_, i) => recordFor(t, lab, `/fixture/keepalive-${i}`).connection))
  // Its own connection, or an idle one an earlier test left in the pool (http-reuse): never one each.
  t.true(connections.size <= 2, `${connections.size} upstream TLS connections carried 5 requests`)
})

// An intake that closes a connection just as the proxy reuses it (its idle timeout firing as the
// request arrives), for new agent connections and for requests on a kept-alive one. The proxy never
// sends a POST twice: it resends a request only when no byte of it went out (retry-on conn-failure;
// empty-response would resend one the intake may have taken: this test then fails). And it never
// answers 2xx for a POST the intake did not take: the client sees the failure (HAProxy closes its
// connection without an answer) and the Agent resends the payload.
test('an intake that closes a connection as it is reused: no POST sent twice, none lost unseen', async (t) => {
  const closing = await startLab(9, { cert: await leaf('closing'), closeReused: true })
  await closing.waitForResolution()
  const keptAlive = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const fresh = new http.Agent({ keepAlive: false })
  const replies: { path: string; status: number }[] = []
  for (let i = 0; i < 8; i++) {
    const requestPath = `/fixture/reused-${i}`
    const status = await closing.send(closing.port('metrics'), { path: requestPath, body: randomBytes(1024), agent: i % 2 ? keptAlive : fresh }).then((r) => r.status, () => 0)
    replies.push({ path: requestPath, status })
  }
  keptAlive.destroy()
  const intake = closing.intake!
  t.true(intake.dropped.length > 0, 'the intake closed a connection the proxy reused')
  for (const { path: requestPath, status } of replies) {
    const taken = intake.records.filter((r) => r.path === requestPath).length
    t.true(taken + intake.dropped.filter((p) => p === requestPath).length <= 1, `${requestPath} reached the intake at most once`)
    if (status >= 200 && status < 300) t.is(taken, 1, `${requestPath}: answered ${status}, so the intake took it`)
  }
})

// DD_FIPS_PORT_RANGE_START, as the unit's environment file or a container sets it: every
// listener moves by the same offset, and each relay still reaches its own upstream.
test('a moved range (DD_FIPS_PORT_RANGE_START) moves every listener, and each relays to its upstream', async (t) => {
  const start = product.ports.rangeStart + 1000
  const moved = await RelayLab.start(product, { id: 7, intake: { cert: await leaf('moved') }, ca: pki.ca, caBundle, portRangeStart: start })
  labs.push(moved)
  await moved.waitForResolution()
  t.deepEqual([...await moved.listeners()].sort(), product.ports.services.map((s) => `${moved.address}:${start + s.offset}`).sort())
  for (const service of relays) {
    const requestPath = `/fixture/moved-${service.name}`
    const reply = await moved.send(start + service.offset, { path: requestPath, body: randomBytes(1024) })
    t.is(reply.status, 202, `${service.name}: ${reply.body}`)
    t.like(recordFor(t, moved, requestPath), { sni: service.upstream, host: service.upstream })
  }
})

// Each case: an intake the proxy must not trust. The request gets 503, nothing reaches the intake
// over HTTP, and the intake saw the handshake fail for the reason of the case.
const refusals: { name: string; id: number; intake: () => Promise<LabOptions['intake']>; handshake: RegExp }[] = [
  {
    name: 'an intake offering only a non-FIPS cipher (ChaCha20-Poly1305)',
    id: 2,
    intake: async () => ({ cert: await leaf('chacha'), ciphers: 'TLS_CHACHA20_POLY1305_SHA256:ECDHE-RSA-CHACHA20-POLY1305' }),
    handshake: /no shared cipher|no suitable|handshake failure/i,
  },
  { name: 'an expired certificate', id: 3, intake: async () => ({ cert: await leaf('expired', { days: -1 }) }), handshake: /certificate expired|alert number 45/i },
  {
    name: 'a certificate for another name',
    id: 4,
    intake: async () => ({ cert: await leaf('wrong-name', { hosts: ['intake.example.invalid'] }) }),
    // HAProxy's verifyhost check fails inside its verify callback, which OpenSSL reports with an
    // internal_error alert (80), not bad_certificate.
    handshake: /alert number 80|internal error/i,
  },
  { name: 'a certificate from an unknown CA', id: 5, intake: async () => ({ cert: await leaf('unknown-ca', { issuer: 'untrusted' }) }), handshake: /unknown ca|alert number 48/i },
]

for (const refusal of refusals) {
  test(`refuses ${refusal.name}`, async (t) => {
    const refusing = await startLab(refusal.id, await refusal.intake())
    await refusing.waitForResolution()
    const reply = await refusing.send(refusing.port('metrics'), { path: '/fixture/refused', body: randomBytes(1024) })
    t.is(reply.status, 503, reply.body)
    t.is(refusing.intake!.records.length, 0, 'no request reached the intake')
    t.true(refusing.intake!.handshakeErrors.length > 0, 'the proxy did try the intake')
    t.true(refusing.intake!.handshakeErrors.some((e) => refusal.handshake.test(e)), refusing.intake!.handshakeErrors.join('\n'))
  })
}

test('an intake that is down: 503, and the log says which server is down and that the backend has none left', async (t) => {
  const down = await startLab(6, 'down')
  await down.waitForResolution()
  const reply = await down.send(down.port('metrics'), { path: '/fixture/down', body: randomBytes(1024) })
  t.is(reply.status, 503)
  const metrics = relays.find((s) => s.name === 'metrics')!
  const backend = backendName(metrics.upstream!, metrics)
  t.regex(await down.waitForLog(new RegExp(`Server ${backend}/mothership1 is DOWN, reason: Layer4 connection problem`), 60_000), /Connection refused/)
  t.truthy(await down.waitForLog(new RegExp(`backend '?${backend}'? has no server available`), 60_000))
})
