/**
 * Log lines on stdout: readable by default, one JSON object per line with `--log-format json`.
 */

export type LogFormat = 'text' | 'json'
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFields = Record<string, unknown>

export class Logger {
  constructor(
    private readonly format: LogFormat,
    private readonly fields: LogFields = {},
    private readonly write: (line: string) => void = (line) => process.stdout.write(line),
  ) {}

  child(fields: LogFields): Logger {
    return new Logger(this.format, {...this.fields, ...fields}, this.write)
  }

  debug(message: string, fields?: LogFields): void {
    if (process.env.PAD_DEBUG) this.log('debug', message, fields)
  }

  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields)
  }

  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields)
  }

  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields)
  }

  private log(level: LogLevel, message: string, fields: LogFields = {}): void {
    const time = new Date().toISOString()
    const all = {...this.fields, ...fields}
    if (this.format === 'json') {
      this.write(JSON.stringify({time, level, msg: message, ...all}) + '\n')
      return
    }
    const rest = Object.entries(all)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`)
      .join(' ')
    this.write(`${time} ${level.toUpperCase().padEnd(5)} ${message}${rest ? ' ' + rest : ''}\n`)
  }
}
