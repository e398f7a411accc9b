/** Whether the server runs the fleet command center: its summary answers 404 when it does not. */
import { api, ApiError } from './api.ts'

export interface FleetSummary {
  total: number
  healthy: number
  attention: number
  by_reason: Record<string, number>
  by_profile: Record<string, { total: number, attention: number }>
}

/** The summary, or null when the fleet is not enabled here. */
export async function fleetSummary (): Promise<FleetSummary | null> {
  try {
    return await api<FleetSummary>('/api/fleet/summary')
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null
    throw e
  }
}
