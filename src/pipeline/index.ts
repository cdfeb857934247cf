export { RuleViolationError } from './errors.ts';
export { type PipelineOptions, type PipelineResult, type PlanRecord, plainTrace, runPipeline } from './pipeline.ts';
