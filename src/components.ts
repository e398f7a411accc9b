/**
 * The components `vigil serve` runs on its log, in start order. Each feature area adds its own.
 */
import type { ComponentFactory } from './server.ts'

export const serverComponents: ComponentFactory[] = []
