/** The edge config on Node: EDGE_CONFIG names a JSON file; CLI flags override env. */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../shared/config.ts';
import {
  applyConfigJson,
  applyEnv,
  defaultConfig,
  type EdgeConfig,
  type EdgeEnv,
  validateConfig,
} from './config.ts';

export interface NodeEdgeEnv extends EdgeEnv {
  /** Path of the JSON config file. */
  EDGE_CONFIG?: string;
}

export interface NodeConfigSources {
  env?: NodeEdgeEnv;
  /** `--config FILE`, over EDGE_CONFIG. */
  configFile?: string;
  /** `--backend URL[,URL…]`, over BACKEND_URLS. */
  backendUrls?: string[];
}

export function loadNodeConfig(sources: NodeConfigSources): EdgeConfig {
  const env = sources.env ?? {};
  const config = defaultConfig();
  const file = sources.configFile ?? (env.EDGE_CONFIG || undefined);
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file '${file}': ${(e as Error).message}`);
    }
    applyConfigJson(config, text, file);
  }
  applyEnv(config, env);
  if (sources.backendUrls?.length)
    config.routing.urls = sources.backendUrls.map((u) => u.trim().replace(/\/+$/, ''));
  return validateConfig(config);
}
