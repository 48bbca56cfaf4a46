// The one template syntax of the project: @NAME@ placeholders, all of which must be given.
export function render(template: string, values: Record<string, string | number>, name = 'template'): string {
  const out = template.replace(/@([A-Z][A-Z0-9_]*)@/g, (whole, key: string) => {
    if (!(key in values)) throw new Error(`${name}: no value for placeholder ${whole}`)
    return String(values[key])
  })
  return out
}
