/**
 * Ctrl-C (and SIGTERM, as `kill` and supervisors send) for commands that run until stopped:
 * the first signal asks the command to wind down; a second, when it gives `again`, means now.
 */
export interface InterruptHandlers {
  first: (signal: NodeJS.Signals) => void
  again?: (signal: NodeJS.Signals) => void
}

/** Installs the handlers; returns the function that removes them. */
export function onInterrupts(handlers: InterruptHandlers): () => void {
  let count = 0
  const handle = (signal: NodeJS.Signals): void => {
    count++
    if (count === 1) handlers.first(signal)
    else handlers.again?.(signal)
  }
  process.on('SIGINT', handle)
  process.on('SIGTERM', handle)
  return () => {
    process.off('SIGINT', handle)
    process.off('SIGTERM', handle)
  }
}

/** Resolves at the first Ctrl-C or SIGTERM (a second one then ends the process as usual). */
export function untilInterrupted(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const off = onInterrupts({
      first: (signal) => {
        off()
        resolve(signal)
      },
    })
  })
}
