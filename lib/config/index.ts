export { type ConfigCheck, checkConfig, checkConfigFile, loadConfigFile, parseConfig } from './load.js';
export type {
  ClusterConfig,
  Config,
  FanoutConfig,
  KeyRef,
  RestartConfig,
  RolloutConfig,
  SourceConfig,
  SyncConfig,
  TargetConfig,
  TimeoutsConfig,
  WavesConfig,
} from './schema.js';
