/** What every handler needs to serve one model; built once at startup (backend/serve.ts). */

import { notFound } from '../../shared/errors.ts';
import type { Registry } from '../../shared/metrics.ts';
import type { LLMEngine } from '../engine/engine.ts';
import {
  parseSamplingParams,
  type RequestApi,
  type SamplingParams,
} from '../engine/sampling-params.ts';
import type { ChatTemplate } from '../model/chat-template.ts';
import { type SamplingDefaults, withSamplingDefaults } from '../model/generation-config.ts';
import type { ModelTokenizer } from '../model/tokenizer.ts';

export interface ServingContext {
  modelName: string;
  maxModelLen: number;
  engine: LLMEngine;
  tokenizer: ModelTokenizer;
  chatTemplate: ChatTemplate | null;
  /** From generation_config.json, for fields a request leaves out. */
  samplingDefaults: SamplingDefaults;
  registry: Registry;
  /** Unix seconds. */
  createdAt: number;
  /** What /version reports about the runner, e.g. { device: 'cpu', runner: 'cpu' }. */
  runnerInfo: Record<string, unknown>;
}

export function checkModel(ctx: ServingContext, model: string): void {
  if (model !== ctx.modelName)
    throw notFound(
      `The model '${model}' does not exist; this server serves '${ctx.modelName}'.`,
      'model',
      'model_not_found',
    );
}

/** The request's sampling parameters; generation_config.json's defaults fill what it leaves out. */
export function requestSamplingParams(
  ctx: ServingContext,
  body: object,
  api: RequestApi,
): SamplingParams {
  return parseSamplingParams(
    withSamplingDefaults(body, ctx.samplingDefaults) as unknown as Record<string, unknown>,
    api,
  );
}

let sequence = 0;
export const newId = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}${(sequence++).toString(36).padStart(4, '0')}`;
export const unixSeconds = () => Math.floor(Date.now() / 1000);
