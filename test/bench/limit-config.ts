// The benchmark's upper bound for this binary: the same HAProxy build on the least a relay needs,
// one frontend on the metrics port and one TLS backend (ours' TLS settings, certificate verification),
// no health checks, no header rewrites, no routes; addresses from the libc once at start. A stats
// listener only so that the lab sees it ready. What ours costs beyond this is the price of its features.
import { SERVER_TLS_OPTIONS, TLS12_CIPHERS, TLS13_SUITES, UPSTREAM_REUSE } from '../../scripts/lib/haproxy-config.ts'
import type { Product } from '../../scripts/lib/product.ts'

export function limitConfig(p: Product, caFile: string): string {
  const metrics = p.ports.services.find((s) => s.name === 'metrics')!
  const host = metrics.upstream!
  return [
    'global',
    '    presetenv DD_FIPS_LOCAL_ADDRESS 127.0.0.1',
    '    nbthread 1',
    '    log stdout format short daemon notice',
    // The TLS and connection reuse choices of ours, so that only the features differ.
    `    ssl-default-server-options ${SERVER_TLS_OPTIONS}`,
    `    ssl-default-server-ciphers ${TLS12_CIPHERS.join(':')}`,
    `    ssl-default-server-ciphersuites ${TLS13_SUITES.join(':')}`,
    'defaults',
    '    mode http',
    '    option http-keep-alive',
    ...UPSTREAM_REUSE.map((l) => `    ${l}`),
    '    timeout connect 5s',
    '    timeout client 30s',
    '    timeout server 30s',
    'listen stats',
    `    bind "\${DD_FIPS_LOCAL_ADDRESS}:${p.ports.rangeStart}"`,
    '    stats enable',
    '    stats uri /',
    'frontend metrics-forwarder',
    `    bind "\${DD_FIPS_LOCAL_ADDRESS}:${metrics.port}"`,
    '    default_backend datadog-metrics',
    'backend datadog-metrics',
    `    server mothership ${host}:443 ssl verify required ca-file ${caFile} sni str(${host}) verifyhost ${host} init-addr libc`,
    '',
  ].join('\n')
}
