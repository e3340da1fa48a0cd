/** The Prometheus text exposition format, for the few plain metrics a node has. */

export interface Metric {
  name: string
  help: string
  type: 'counter' | 'gauge'
  value: number
  labels?: Record<string, string>
}

export function prometheusText(metrics: Metric[]): string {
  let text = ''
  for (const metric of metrics) {
    text += `# HELP ${metric.name} ${metric.help}\n# TYPE ${metric.name} ${metric.type}\n`
    const labels = metric.labels
      ? '{' + Object.entries(metric.labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c))}"`).join(',') + '}'
      : ''
    text += `${metric.name}${labels} ${Number.isFinite(metric.value) ? metric.value : 0}\n`
  }
  return text
}
