export type { Alerting, AlertsState } from './alerts/alerting.js';
export type { ChannelState } from './alerts/channel.js';
export type { AlertEvent, LeaderChange } from './alerts/events.js';
export { jsonBody, leaderChangedEvent, slackBody } from './alerts/events.js';
export type { CheckConfigOptions } from './config/check.js';
export { checkConfig } from './config/check.js';
export * from './config/index.js';
export { startDaemon } from './daemon.js';
export type {
  Daemon,
  DaemonOptions,
  DaemonState,
  QueueState,
  ReloadResult,
  TickPhase,
} from './daemon-types.js';
export type { FleetState } from './fleet/fleet.js';
export type { HistorySample, HistoryView } from './loop/history.js';
export { HISTORY_DEFAULTS, QueueHistory } from './loop/history.js';
export type { DaemonLogger, DaemonLoggerOptions } from './observability/logging.js';
export { createDaemonLogger } from './observability/logging.js';
export type { RunIo, RunMode } from './run.js';
export { DAEMON_USAGE, runDaemon, SCALER_USAGE } from './run.js';
export type { DecisionRecord, QueueHold } from './runtime/holds.js';
export type { WorkerCountView } from './scaler/pods.js';
export { EXTERNAL_SCALER_PROTO, loadExternalScaler } from './scaler/proto.js';
export type { ExternalScalerServer, QueueVerdict, VerdictSource } from './scaler/service.js';
export { metricNameOf, startExternalScalerServer } from './scaler/service.js';
export type { CountedWorkers, WorkerCountSource } from './scaler/worker-count.js';
