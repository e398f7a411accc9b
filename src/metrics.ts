/**
 * One Prometheus registry per Vigil process, served at GET /metrics. Modules add their own
 * metrics to it (prefix `vigil_`); nothing here is global, so tests can build several servers.
 */
import { Registry, collectDefaultMetrics, Counter, Histogram, Gauge } from 'prom-client'

export interface Metrics {
  readonly registry: Registry
  readonly httpRequests: Counter<'method' | 'route' | 'status'>
  readonly httpDuration: Histogram<'method' | 'route'>
  readonly logUp: Gauge
}

export function createMetrics (): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'vigil_process_' })
  return {
    registry,
    httpRequests: new Counter({
      name: 'vigil_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry]
    }),
    httpDuration: new Histogram({
      name: 'vigil_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry]
    }),
    logUp: new Gauge({
      name: 'vigil_log_up',
      help: '1 while the log (embedded file or Kafka brokers) answers, 0 otherwise.',
      registers: [registry]
    })
  }
}
