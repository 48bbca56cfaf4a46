// The benchmark's point of comparison: an HAProxy config modelled on the vendor's public header
// (../shared/reference/fips-proxy.md, "HAProxy configuration: public fragments"): TLS 1.2 only
// toward the upstream, ECDHE and RSA AES-GCM ciphers, 5 s timeouts, retries 3 and redispatch,
// `check inter 10s` servers resolved at run time, a `server-template mothership`. Only what the
// benchmark drives: the stats page and the metrics frontend with its two backends. The rest of
// the vendor's file is not public; where the header is silent, HAProxy's defaults apply.
import type { Product } from '../../scripts/lib/product.ts'

const VENDOR_CIPHERS = [
  'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'AES128-GCM-SHA256', 'AES256-GCM-SHA384',
]

// caFile: absolute here; the vendor's `ca-file ca-certificates.crt` is relative to the cfg.
export function vendorLikeConfig(p: Product, caFile: string): string {
  const metrics = p.ports.services.find((s) => s.name === 'metrics')!
  const api = metrics.routes[0]
  const server = (host: string) => `    server-template mothership 5 ${host}:443 check port 443 ssl verify required ca-file ${caFile} sni str(${host}) check-sni ${host}`
  return [
    'global',
    '    presetenv DD_FIPS_LOCAL_ADDRESS 127.0.0.1',
    '    log stdout format short daemon notice',
    '    ssl-default-server-options no-sslv3 no-tlsv10 no-tlsv11 no-tlsv13',
    `    ssl-default-server-ciphers ${VENDOR_CIPHERS.join(':')}`,
    '',
    'resolvers my-dns',
    '    parse-resolv-conf',
    '',
    'defaults',
    '    mode http',
    '    log global',
    '    timeout client 5s',
    '    timeout server 5s',
    '    timeout connect 5s',
    '    retries 3',
    '    option redispatch',
    `    default-server verify required ca-file ${caFile} check inter 10s resolvers my-dns init-addr none resolve-prefer ipv4`,
    '',
    'listen stats',
    `    bind "\${DD_FIPS_LOCAL_ADDRESS}:${p.ports.rangeStart}"`,
    '    stats enable',
    '    stats uri /',
    '',
    'frontend metrics-forwarder',
    `    bind "\${DD_FIPS_LOCAL_ADDRESS}:${metrics.port}"`,
    `    use_backend datadog-api if { path_beg -i ${api.pathPrefix} }`,
    '    default_backend datadog-metrics',
    '',
    'backend datadog-metrics',
    server(metrics.upstream!),
    '',
    'backend datadog-api',
    server(api.upstream),
    '',
  ].join('\n')
}
