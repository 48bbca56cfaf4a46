// Registered by test/image.test.ts, which imports it: run in its process (see there).
// The image in the pod shapes the vendor's platforms give its sidecar, run by podman's Kubernetes
// executor (podman kube play) on pod YAML written as the Datadog Helm chart
// (charts/datadog/templates/_container-fips-proxy.yaml) and the Operator (global/fips.go) render
// it: container fips-proxy, no command or args, no probes, env DD_FIPS_LOCAL_ADDRESS only (the
// declared ports 9803-9817 aside: see podYaml). Shapes: the pod's securityContext as the node
// Agent's DaemonSet (root), none (the Cluster Agent's: the image's user), an OpenShift arbitrary
// UID with group 0, a read-only root with an emptyDir on the writable dir; and the first, second
// and last with a config in the vendor's dialect mounted as one file at the live config path.
//
// What stands in for the cluster: the kubelet's /etc/resolv.conf is a hostPath naming the FIXTURE
// DNS, and the FIXTURE CA replaces the image's CA bundle (hostPath); both FIXTURE servers and an
// Agent-like client run in the pod's network namespace (test/fixtures/netns-peer.ts), and the pod
// has no network of its own (--network none). Each shape must serve the stats page and relay on
// every relay port; the log records the user it ran as and its time to ready. With
// MATRIX_ENGINE=docker, the same shapes run with docker run's flags too.
import test, { type ExecutionContext } from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { stringify } from 'yaml'
import { type EngineName, engineNamed, requestedEngine } from './harness/containers.ts'
import { healthcheckPath } from '../scripts/lib/image.ts'
import { liveConfig, loadProduct } from '../scripts/lib/product.ts'
import { FixturePki, type ServerCert } from './fixtures/pki.ts'
import { ImageContainer, PEER_DNS, Peer, loadImage, removeImage } from './helpers/image-host.ts'
import { VENDOR_DIALECT_CONFIG, vendorDialectHosts, fixtureIntakeHosts } from './helpers/vendor-dialect.ts'

const product = loadProduct()
const OPENSHIFT_UID = 1000680000
const work = mkdtempSync(path.join(os.tmpdir(), 'pods-test-'))
let cert: ServerCert
let ca: string
const resolvConf = path.join(work, 'resolv.conf')

interface Shape {
  name: string
  // the pod's securityContext (absent: none)
  podSecurity?: Record<string, number>
  readOnlyRoot?: boolean
  vendorConfig?: boolean
  // uid:gid every process of the proxy must run as
  expectedUser: string
}

const imageUser = `${product.image.uid}:${product.image.gid}`
const SHAPES: Shape[] = [
  { name: 'root', podSecurity: { runAsUser: 0 }, expectedUser: '0:0' },
  { name: 'image-user', expectedUser: imageUser },
  // OpenShift's restricted SCC: a UID from the project's range, group 0, no passwd entry.
  { name: 'openshift', podSecurity: { runAsUser: OPENSHIFT_UID, runAsGroup: 0 }, expectedUser: `${OPENSHIFT_UID}:0` },
  { name: 'read-only', readOnlyRoot: true, expectedUser: imageUser },
  { name: 'root-vendor-config', podSecurity: { runAsUser: 0 }, vendorConfig: true, expectedUser: '0:0' },
  { name: 'image-user-vendor-config', vendorConfig: true, expectedUser: imageUser },
  { name: 'read-only-vendor-config', readOnlyRoot: true, vendorConfig: true, expectedUser: imageUser },
]

const hostFile = (name: string, file: string) => ({ name, hostPath: { path: file, type: 'File' } })

// The pod as the chart renders the sidecar, plus the shape's settings and the stand-ins above.
// But for the ports: the chart declares 9803-9817 (containerPort, no hostPort), which Kubernetes
// publishes nowhere; podman 4.3's kube play publishes each one on the host instead (conmon
// listening on 0.0.0.0:<port>, iptables DNAT on a bridge network) and refuses them with
// --network none. A test must not take the host's ports, and the declaration changes nothing in
// the pod's network namespace, where the Agent and the peer talk to the sidecar: it is left out.
function podYaml(shape: Shape, podName: string, image: string): string {
  const mounts = [
    { name: 'resolv-conf', mountPath: '/etc/resolv.conf', readOnly: true },
    { name: 'fixture-ca', mountPath: product.image.caBundle, readOnly: true },
    // The chart mounts the ConfigMap's key with subPath, which podman 4.3's kube play ignores
    // (it would mount the whole ConfigMap, a directory, which the entrypoint refuses); a hostPath
    // of type File is what the kubelet's subPath mount amounts to: one file at that path.
    ...(shape.vendorConfig ? [{ name: 'fips-proxy-cfg', mountPath: liveConfig(product), readOnly: true }] : []),
    ...(shape.readOnlyRoot ? [{ name: 'writable', mountPath: product.image.writableDir }] : []),
  ]
  const volumes = [
    hostFile('resolv-conf', resolvConf),
    hostFile('fixture-ca', ca),
    ...(shape.vendorConfig ? [hostFile('fips-proxy-cfg', VENDOR_DIALECT_CONFIG)] : []),
    ...(shape.readOnlyRoot ? [{ name: 'writable', emptyDir: {} }] : []),
  ]
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: podName },
    spec: {
      ...(shape.podSecurity ? { securityContext: shape.podSecurity } : {}),
      containers: [{
        name: 'fips-proxy',
        image,
        imagePullPolicy: 'IfNotPresent',
        env: [{ name: 'DD_FIPS_LOCAL_ADDRESS', value: '127.0.0.1' }],
        resources: {},
        ...(shape.readOnlyRoot ? { securityContext: { readOnlyRootFilesystem: true } } : {}),
        volumeMounts: mounts,
      }],
      volumes,
    },
  }
  return stringify(pod)
}

const ENGINES: EngineName[] = requestedEngine() === 'docker' ? ['podman', 'docker'] : ['podman']
const images: Partial<Record<EngineName, string>> = {}

test.before(async () => {
  const pki = await FixturePki.create(path.join(work, 'pki'))
  cert = await pki.leaf('intake', { hosts: fixtureIntakeHosts(product) })
  ca = pki.ca
  writeFileSync(resolvConf, `nameserver ${PEER_DNS}\n`)
  // A name of their own: image.test.ts's tests remove the archive's names when they are done.
  for (const name of ENGINES) {
    const e = await engineNamed(name)
    const loaded = (await loadImage(e, product)).image
    images[name] = `${loaded}-pod-shapes`
    await $({ quiet: true, env: e.env })`${e.bin} tag ${loaded} ${images[name]}`
  }
})

test.after.always(async () => {
  for (const name of ENGINES) if (images[name]) await removeImage(await engineNamed(name), images[name]!)
})

// The uid:gid of each process of the container, on the host.
const users = async (c: ImageContainer) => [...new Set((await c.processes()).map((pid) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return `${status.match(/^Uid:\t(\d+)/m)![1]}:${status.match(/^Gid:\t(\d+)/m)![1]}`
}))]

// The TCP ports listened on in a process's network namespace (state 0A of /proc/<pid>/net/tcp),
// read from the host: polling it costs no exec in the container.
function listening(pid: number): Set<number> {
  const rows = readFileSync(`/proc/${pid}/net/tcp`, 'utf8').trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/))
  return new Set(rows.filter((r) => r[3] === '0A').map((r) => parseInt(r[1].split(':')[1], 16)))
}

// What every shape must do, started at `started`: become ready (the stats port and every relay
// port of its config listened on), run as the expected user, serve the stats page and relay on
// every relay port (of the vendor config when the shape mounts it).
async function serves(t: ExecutionContext, c: ImageContainer, shape: Shape, started: number, how: string): Promise<void> {
  const relays = shape.vendorConfig
    ? vendorDialectHosts().map(([port, host]) => ({ port, host }))
    : product.ports.services.filter((s) => s.kind === 'relay').map((s) => ({ port: s.port, host: s.upstream! }))
  const wanted = [product.ports.rangeStart, ...relays.map((r) => r.port)]
  const pid = await c.pid()
  let ready = false
  while (!ready && Date.now() - started < 30_000) {
    const bound = listening(pid)
    ready = wanted.every((port) => bound.has(port))
    if (!ready) await new Promise((r) => setTimeout(r, 20))
  }
  const readyMs = Date.now() - started
  t.true(ready, await c.logs())
  const ran = await users(c)
  t.deepEqual(ran, [shape.expectedUser], 'every process as the expected user')
  t.log(`${shape.name}: user ${ran.join(', ')}, ${how} to ready ${readyMs} ms`)
  // The image's health command (ECS waits for it) passes: with the vendor-dialect config too, which
  // binds nothing on the reserved port.
  const health = await c.exec([healthcheckPath(product)])
  t.is(health.exitCode, 0, health.stderr)

  const peer = await Peer.start(pid, cert, fixtureIntakeHosts(product))
  try {
    t.true((await peer.call({ op: 'waitResolution', port: product.ports.rangeStart })).ok, await c.logs())
    const stats = await peer.call({ op: 'send', port: product.ports.rangeStart, method: 'GET', path: '/' })
    t.is(stats.status, 200)
    t.regex(stats.body, /Statistics Report/)
    for (const r of relays) {
      const reply = await peer.call({ op: 'send', port: r.port, path: `/shape/${shape.name}/${r.port}`, bytes: 1024 })
      t.is(reply.status, 202, `${r.port}: ${JSON.stringify(reply)}`)
    }
    const records = await peer.call({ op: 'records' }) as unknown as { path: string; sni: string }[]
    for (const r of relays) t.like(records.find((x) => x.path === `/shape/${shape.name}/${r.port}`), { sni: r.host }, String(r.port))
  } finally {
    await peer.close()
  }
}

for (const shape of SHAPES) {
  test.serial(`podman kube play, ${shape.name}: ready, the stats page, every relay port relays`, async (t) => {
    const e = await engineNamed('podman')
    const podName = `fips-pod-${shape.name}-${process.pid}`
    const yaml = path.join(work, `${podName}.yaml`)
    writeFileSync(yaml, podYaml(shape, podName, images.podman!))
    const started = Date.now()
    try {
      const play = await $({ quiet: true, nothrow: true, env: e.env })`podman kube play --network none ${yaml}`
      t.is(play.exitCode, 0, play.stderr)
      await serves(t, ImageContainer.of(e, `${podName}-fips-proxy`), shape, started, 'kube play')
    } finally {
      await $({ quiet: true, nothrow: true, env: e.env })`podman pod rm -f -t 0 ${podName}`
    }
  })
}

// Docker has no Kubernetes executor: the same shapes with docker run's flags (the pod's user as
// --user, a tmpfs where the pod has an emptyDir, the hostPath mounts as volumes).
if (ENGINES.includes('docker')) for (const shape of SHAPES) {
  test.serial(`docker run, ${shape.name}: ready, the stats page, every relay port relays`, async (t) => {
    const e = await engineNamed('docker')
    const pod = shape.podSecurity
    const started = Date.now()
    const c = await ImageContainer.run(e, product, images.docker!, {
      name: `fips-shape-${shape.name}-${process.pid}`,
      user: pod ? `${pod.runAsUser}${pod.runAsGroup === undefined ? '' : `:${pod.runAsGroup}`}` : undefined,
      readOnly: shape.readOnlyRoot === true,
      volumes: [[resolvConf, '/etc/resolv.conf'], [ca, product.image.caBundle], ...(shape.vendorConfig ? [[VENDOR_DIALECT_CONFIG, liveConfig(product)] as [string, string]] : [])],
    })
    try {
      await serves(t, c, shape, started, 'docker run')
    } finally {
      await c.remove()
    }
  })
}
