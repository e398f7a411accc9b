/**
 * The components `vigil serve` runs on its log, in start order. Each feature area adds its own.
 */
import type { ComponentFactory } from './server.ts'
import { createAuditComponent } from './audit/component.ts'
import { createSchemaRegistryComponent } from './schema/component.ts'
import { createPipelinesComponent } from './pipeline/component.ts'
import { createFleetComponent } from './fleet/index.ts'
import { createClusterMetricsComponent } from './ops/cluster-metrics.ts'
import { createConsoleComponent } from './console/index.ts'

export const serverComponents: ComponentFactory[] = [
  context => createConsoleComponent(context),
  context => createSchemaRegistryComponent(context),
  context => createAuditComponent(context),
  context => createPipelinesComponent(context),
  context => createFleetComponent(context),
  context => createClusterMetricsComponent(context)
]
