// The example HAProxy configuration, generated from the port map of the product definition.
// One listener per port of the range, all on loopback (DD_FIPS_LOCAL_ADDRESS, 127.0.0.1 unless
// the service environment sets it), each on the port in its DD_FIPS_PORT_<SERVICE> variable, which
// HAProxy's launcher (run-haproxy, also rendered here) sets from DD_FIPS_PORT_RANGE_START: the
// Agent talks plain HTTP to it, and every relay re-encrypts
// towards its upstream host on 443 with TLS 1.2+ and FIPS-approved AES-GCM suites only,
// verifying the certificate and the host name against the distro's CA bundle.
import { linkShellLibrary } from './shell-library.ts'
import { type Product, type Service, portVariable, runHaproxyPath, templateValues } from './product.ts'
import { packagingTemplate } from './template.ts'

// TLS 1.2: ECDHE with AES-GCM (FIPS 140-2 approved; no ChaCha20, no CBC, no RSA key exchange).
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
]
export const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384']

// Towards the intake: TLS 1.2 at least; session tickets on, the only resumption TLS 1.3 has (a
// resumed handshake skips the certificate and its verification, and keeps an ECDHE exchange: forward
// secrecy stays). No early data: no server has allow-0rtt, since 0-RTT data can be replayed.
export const SERVER_TLS_OPTIONS = 'ssl-min-ver TLSv1.2'

// Upstream connections outlive the client's: any request, an agent connection's first included, may
// go over an idle connection to the intake (http-reuse always). Never a POST twice: a request is
// resent only when no byte of it went out (retry-on conn-failure, HAProxy's default, written out:
// empty-response or response-timeout would resend one the intake may have taken). Never one lost
// unseen: when the intake closes an idle connection just as it is reused, HAProxy closes the agent's
// connection without an answer, and the Agent resends the payload (test/relay.test.ts). Measured by
// make bench, agents that close each connection (wrk, Connection: close): 77.8-88.6 µs of proxy CPU
// per request and 0.000 upstream handshakes per request, against 888.8 µs and 1.000 with http-reuse
// safe and no-tls-tickets (789.8 µs with tickets alone), and 465.3-590.3 µs for the vendor-like config.
export const UPSTREAM_REUSE = ['http-reuse always', 'retry-on conn-failure']

// How servers get their addresses: at run time from the resolvers (DNS), starting without one so
// that the proxy starts even before DNS answers (servers come up once resolved).
export const RUNTIME_RESOLUTION = 'resolvers system init-addr none resolve-prefer ipv4'

// Set by the container's entrypoint when /etc/resolv.conf does not exist.
export const NO_RESOLV_CONF_VARIABLE = 'DD_FIPS_PROXY_NO_RESOLV_CONF'

// Health checks of every server: each one a TLS handshake with the intake, from every host. A
// periodic check of a healthy server only finds what its traffic would, so while UP a server is
// checked once a day and its traffic watches it (observe layer4): one failed connection brings the
// next check fastinter (1 s) later, fall 3 failed checks mark it DOWN; DOWN, it is checked every
// downinter (2 s) until rise 2 pass. on-error fastinter, not sudden-death or mark-down: the traffic
// only brings checks forward, so each DOWN comes from a check and its log line says why (refused,
// TLS handshake failure, timeout). Measured by make bench, every upstream host resolving to 4
// addresses (64 servers), against `inter 60s fastinter 2s ... error-limit 3 on-error fastinter`:
// idle, 0 upstream TLS handshakes over its minute (one per server and day: 2.7/hour) instead of
// 3840/hour, 1.8 CPU s/hour instead of 7.2; the intake killed under traffic, marked down 3.0 s
// later instead of 6.3 s (fall 2: 2.0 s; sudden-death: 1.1 s); back, traffic flows 2.9 s later
// instead of 3.8 s. The start costs a check per server (max-spread-checks, global).
export const HEALTH_CHECKS = 'check inter 1d fastinter 1s downinter 2s fall 3 rise 2 observe layer4 error-limit 1 on-error fastinter'

// Servers per backend: the intake hosts resolve to several addresses; HAProxy fills these slots.
const SERVER_SLOTS = 4

export interface ConfigOptions {
  caBundle: string
  // Where the config is generated for, shown in its header.
  flavour: string
}

const bind = (s: Service) => `    bind "\${DD_FIPS_LOCAL_ADDRESS}:\${${portVariable(s)}}"`

// The backend of a service's upstream or route host: what the log names when a server goes down.
export function backendName(host: string, service: Service): string {
  return host === service.upstream ? `datadog-${service.name}` : `datadog-${service.name}-${host.split('.')[0]}`
}

function backend(name: string, host: string): string[] {
  return [
    `backend ${name}`,
    `    http-request set-header Host ${host}`,
    `    server-template mothership ${SERVER_SLOTS} ${host}:443 sni str(${host}) verifyhost ${host} check-sni ${host}`,
    '',
  ]
}

// A listener the Agent may reach with TLS (agent_tls): HAProxy 3.0 ignores TLS sample fetches
// (req.ssl_hello_type) in an HTTP frontend, so this one is TCP, inspects the first bytes, logs and
// refuses a ClientHello, and hands anything else to its HTTP backend (HAProxy upgrades the stream
// to HTTP there). Only the refusal is logged at notice, the global log level: a relayed request
// stays at info, which is not logged, so the log-format is the refusal's line.
function refuseTls(service: Service): string[] {
  return [
    '    mode tcp',
    `    log-format "${service.product}: refused a TLS connection from %ci:%cp to %fi:%fp: ${service.agentTls}"`,
    '    tcp-request inspect-delay 5s',
    '    tcp-request content set-log-level notice if { req.ssl_hello_type 1 }',
    '    tcp-request content reject if { req.ssl_hello_type 1 }',
  ]
}

function section(service: Service): string[] {
  const head = `# ${service.port} (offset ${service.offset}): ${service.product}${service.agentSetting ? ` (Agent setting ${service.agentSetting})` : ''}`
  if (service.kind === 'stats') {
    return [head, `listen stats`, bind(service), '    stats enable', '    stats uri /', '    stats refresh 10s', '    stats show-legends', '']
  }
  if (service.kind === 'reserved') {
    // Bound so that the whole range stays the proxy's, as the Agent expects.
    return [head, `frontend ${service.name}-reserved`, bind(service), `    http-request return status 404 content-type text/plain string "port reserved for ${service.name}"`, '']
  }
  const upstream = service.upstream!
  return [
    head,
    `frontend ${service.name}-forwarder`,
    bind(service),
    ...(service.agentTls ? refuseTls(service) : []),
    // A route takes its path and what is under it, a whole segment: /support/flare and
    // /support/flare/<case id>, never /support/flares.
    ...service.routes.map((r) => `    use_backend ${backendName(r.upstream, service)} if { path ${r.pathPrefix} } || { path_beg ${r.pathPrefix}/ }`),
    `    default_backend ${backendName(upstream, service)}`,
    '',
    ...backend(backendName(upstream, service), upstream),
    ...service.routes.flatMap((r) => backend(backendName(r.upstream, service), r.upstream)),
  ]
}

export function renderHaproxyConfig(product: Product, opts: ConfigOptions): string {
  return [
    `# ${product.name} ${product.version}: example configuration (${opts.flavour}).`,
    `# Generated from the product definition; the package never installs or changes the live`,
    `# configuration. To use it:`,
    `#   cp ${product.paths.configDir}/${product.name}.cfg.example ${product.paths.configDir}/${product.name}.cfg`,
    `#   chown ${product.user}:${product.group} ${product.paths.configDir}/${product.name}.cfg && chmod 640 ${product.paths.configDir}/${product.name}.cfg`,
    `# The Agent must have fips.enabled: true, fips.https: false and fips.port_range_start: the first`,
    `# port of the range (${product.ports.rangeStart} unless DD_FIPS_PORT_RANGE_START moves it; the ports below are the default range).`,
    '',
    'global',
    '    # Listeners stay on loopback: the Agent-to-proxy leg is plain HTTP.',
    '    presetenv DD_FIPS_LOCAL_ADDRESS 127.0.0.1',
    `    # Ports: ${runHaproxyPath(product)} sets them from DD_FIPS_PORT_RANGE_START; HAProxy started without it gets the default range.`,
    ...product.ports.services.map((s) => `    presetenv ${portVariable(s)} ${s.port}`),
    // One thread: an agent sends tens of requests per second and one thread relays thousands; by
    // default HAProxy starts one per CPU, which on a shared host costs memory and, measured by
    // `make bench` on 2 CPUs, 15-35% more CPU per request than one thread.
    '    nbthread 1',
    '    log stdout format short daemon notice',
    // Every server's first check within 5 s of the start (HAProxy spreads them over the shortest
    // inter otherwise: a day), so that a path that does not work (CA bundle, firewall) shows DOWN in
    // the log and the self-check at once, not at the first request.
    '    max-spread-checks 5s',
    // No maxconn: HAProxy derives it from the file descriptor limit it gets (the unit raises it to
    // 65536); a fixed value above what a host or container allows would stop it from starting.
    '    ssl-server-verify required',
    `    ssl-default-server-options ${SERVER_TLS_OPTIONS}`,
    `    ssl-default-server-ciphers ${TLS12_CIPHERS.join(':')}`,
    `    ssl-default-server-ciphersuites ${TLS13_SUITES.join(':')}`,
    '',
    'resolvers system',
    // parse-resolv-conf refuses to start without /etc/resolv.conf, which a container without a
    // network may lack (podman --network none): its entrypoint then sets this variable and the
    // proxy starts with no nameserver, its servers waiting unresolved (init-addr none).
    `    .if !defined(${NO_RESOLV_CONF_VARIABLE})`,
    '    parse-resolv-conf',
    '    .endif',
    '    hold valid 10s',
    '    accepted_payload_size 8192',
    '',
    'defaults',
    '    mode http',
    '    log global',
    '    option dontlognull',
    '    option http-keep-alive',
    ...UPSTREAM_REUSE.map((l) => `    ${l}`),
    '    retries 3',
    '    option redispatch',
    '    timeout connect 5s',
    // A check's connection and TLS handshake get min(inter, timeout connect) only when this is set,
    // else all of inter (a day): a check hung on an intake that accepts and never answers would hold
    // its server's checks, the traffic-triggered ones too, that long.
    '    timeout check 5s',
    '    timeout client 30s',
    '    timeout server 30s',
    '    timeout http-request 10s',
    '    timeout http-keep-alive 10s',
    `    default-server ssl verify required ca-file ${opts.caBundle} ${HEALTH_CHECKS} ${RUNTIME_RESOLUTION}`,
    '',
    ...product.ports.services.flatMap(section),
  ].join('\n')
}

// HAProxy's launcher: every port variable the config binds, from DD_FIPS_PORT_RANGE_START.
export function renderRunHaproxy(product: Product): string {
  const exports = product.ports.services.map((s) => `export ${portVariable(s)}=$((start + ${s.offset}))`).join('\n')
  return linkShellLibrary(product, packagingTemplate('run-haproxy.sh'), { ...templateValues(product), PORT_EXPORTS: exports }, 'run-haproxy.sh')
}
