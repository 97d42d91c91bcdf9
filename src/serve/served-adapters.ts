/**
 * LoRA adapters served beside the base model, by the name requests give as `model` (vLLM's runtime LoRA loading):
 * their PEFT tensors stay on the host and are put on the model when a request names them. A model opened with an
 * adapter serves it under the model's own name.
 */
import { GrpoError } from '../errors.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import { readPeftAdapter, type PeftAdapter } from '../model/io/peft-adapter.ts';
import { loraSettings } from '../model/lora.ts';

export class ServedAdapters {
  private readonly byName = new Map<string, PeftAdapter>();
  /** the adapter whose tensors the model holds now */
  private active: string | null = null;

  constructor(
    private readonly model: LlamaModel,
    /** the model's own name: its own adapter's, if it was opened with one */
    private readonly modelName: string,
  ) {
    const lora = model.lora;
    if (lora) {
      const s = lora.settings;
      this.byName.set(modelName, {
        options: { r: s.r, alpha: s.alpha, dropout: s.dropout, targetModules: s.targetModules, useRslora: s.useRslora },
        tensors: lora.save(),
      });
      this.active = modelName;
    }
  }

  /** names of the loaded adapters (not the model's own) */
  get names(): string[] {
    return [...this.byName.keys()].filter((n) => n !== this.modelName);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Load a PEFT adapter under `name`; it is checked against the model now (a misfit throws, nothing changes). */
  load(name: string, dir: string): void {
    if (name === this.modelName || this.byName.has(name))
      throw new GrpoError('adapter', `the LoRA adapter '${name}' has already been loaded`);
    const adapter = readPeftAdapter(dir);
    this.byName.set(name, adapter);
    try {
      this.activate(name);
    } catch (e) {
      this.byName.delete(name);
      this.active = null;
      throw e;
    }
  }

  unload(name: string): void {
    if (name === this.modelName || !this.byName.delete(name))
      throw new GrpoError('adapter_not_found', `no LoRA adapter '${name}' is loaded`);
    if (this.active === name) this.active = null;
  }

  /** the adapter a request's `model` selects: a loaded one, the model's own, or none */
  selectedBy(model: string | null): string | null {
    return model !== null && model !== this.modelName ? model : this.byName.has(this.modelName) ? this.modelName : null;
  }

  /** Put the named adapter's tensors on the model (new adapters when its rank or targets differ). */
  activate(name: string): void {
    if (this.active === name) return;
    const a = this.byName.get(name)!;
    const s = this.model.lora?.settings,
      o = loraSettings(a.options);
    const fits =
      s &&
      s.r === o.r &&
      s.alpha === o.alpha &&
      s.useRslora === o.useRslora &&
      s.targetModules.join() === o.targetModules.join();
    (fits ? this.model.lora! : this.model.attachLora(a.options)).load(a.tensors);
    this.active = name;
  }
}
