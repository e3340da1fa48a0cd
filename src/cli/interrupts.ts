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

/** A killable cluster: what a run that owns node processes must stop whatever happens. */
interface Killable {
  killNow(): void
}

/**
 * For a command whose run owns a cluster (chaos, scenario run): the first Ctrl-C prints
 * `firstMessage` and aborts `signal` (the run winds down and tears down as usual); a second one,
 * or the process exiting any other way, kills the cluster's nodes at once. The run reports its
 * cluster through `onCluster`; `dispose` removes the handlers once it is over.
 */
export function clusterInterrupts(firstMessage: string): {signal: AbortSignal; onCluster: (cluster: Killable | null) => void; dispose: () => void} {
  const abort = new AbortController()
  let cluster: Killable | null = null
  const off = onInterrupts({
    first: () => {
      process.stderr.write(`${firstMessage}\n`)
      abort.abort()
    },
    again: () => {
      cluster?.killNow()
      process.exit(130)
    },
  })
  const onExit = (): void => cluster?.killNow()
  process.on('exit', onExit)
  return {
    signal: abort.signal,
    onCluster: (c) => (cluster = c),
    dispose: () => {
      off()
      process.off('exit', onExit)
    },
  }
}
