// Entry-point wrapper: an expected failure prints one clear message and exits non-zero,
// without a stack trace; set DEBUG=1 to see the trace.
export async function main(fn: () => Promise<void>): Promise<void> {
  try {
    await fn()
  } catch (err) {
    const e = err as Error
    process.stderr.write(`error: ${process.env.DEBUG ? e.stack : e.message}\n`)
    process.exit(1)
  }
}
