/**
 * ComfyUI's `validate_prompt` (execution.py), re-done in TypeScript for the
 * fake server, against an `/object_info` dump: the class of every node exists,
 * the prompt has an output node, and from each output node back through its
 * links every required input is present, every link names an existing node
 * and output slot whose type the input accepts, numbers are numbers within
 * their bounds, and combo values are among the choices. The answer has
 * ComfyUI's shape: `{ error: { type, message, details, extra_info }, node_errors: { id: { errors, dependent_outputs, class_type } } }`.
 */

/** One node's entry in /object_info. */
export interface NodeInfo {
  readonly input: { readonly required?: Record<string, unknown[]>; readonly optional?: Record<string, unknown[]> };
  readonly output: readonly string[];
  readonly output_node?: boolean;
  readonly name?: string;
}
export type ObjectInfo = Record<string, NodeInfo>;

export interface PromptNode {
  readonly class_type?: unknown;
  readonly inputs?: Record<string, unknown>;
}

export interface NodeError {
  readonly type: string;
  readonly message: string;
  readonly details: string;
  readonly extra_info: Record<string, unknown>;
}

export interface ValidationFailure {
  readonly error: NodeError;
  readonly node_errors: Record<string, { errors: NodeError[]; dependent_outputs: string[]; class_type: string }>;
}

/** The choices of a combo input, in either format ComfyUI lists them (`[[a, b], opts]` or `["COMBO", { options }]`). */
export function comboChoices(spec: readonly unknown[]): unknown[] | undefined {
  if (Array.isArray(spec[0])) return spec[0] as unknown[];
  if (spec[0] === 'COMBO') return ((spec[1] ?? {}) as { options?: unknown[] }).options ?? [];
  return undefined;
}

/** ComfyUI's validate_node_input: "*" accepts anything, "A,B" is a union. */
function typesMatch(received: string, wanted: string): boolean {
  if (received === '*' || wanted === '*' || received === wanted) return true;
  const r = new Set(received.split(','));
  return wanted.split(',').some((t) => r.has(t));
}

const err = (type: string, message: string, details: string, extra: Record<string, unknown> = {}): NodeError => ({ type, message, details, extra_info: extra });

/** Nodes whose "image" input names an uploaded file: ComfyUI checks those with VALIDATE_INPUTS, not the combo list. */
const UPLOAD_INPUTS = new Set(['LoadImage.image', 'LoadImageMask.image']);

export function validatePrompt(prompt: Record<string, PromptNode>, info: ObjectInfo, uploaded: (name: string) => boolean): ValidationFailure | undefined {
  for (const [id, node] of Object.entries(prompt)) {
    if (typeof node?.class_type !== 'string') {
      return { error: err('invalid_prompt', 'Cannot execute because a node is missing the class_type property.', `Node ID '#${id}'`), node_errors: {} };
    }
    if (!info[node.class_type]) {
      return {
        error: err('missing_node_type', `Node '${node.class_type}' not found. The custom node may not be installed.`, `Node ID '#${id}'`, { node_id: id, class_type: node.class_type }),
        node_errors: {},
      };
    }
  }
  const outputs = Object.entries(prompt).filter(([, n]) => info[n.class_type as string]!.output_node === true).map(([id]) => id);
  if (outputs.length === 0) return { error: err('prompt_no_outputs', 'Prompt has no outputs', ''), node_errors: {} };

  const checked = new Map<string, NodeError[]>();
  const validate = (id: string): boolean => {
    const known = checked.get(id);
    if (known) return known.length === 0;
    const errors: NodeError[] = [];
    checked.set(id, errors);
    const node = prompt[id]!;
    const classType = node.class_type as string;
    const schema = info[classType]!;
    const inputs = node.inputs ?? {};
    let upstreamOk = true;
    const check = (name: string, spec: unknown[], required: boolean): void => {
      const val = inputs[name];
      const extra = { input_name: name, input_config: spec };
      if (val === undefined) {
        if (required) errors.push(err('required_input_missing', 'Required input is missing', name, { input_name: name }));
        return;
      }
      const wanted = typeof spec[0] === 'string' ? spec[0] : 'COMBO';
      if (Array.isArray(val)) {
        if (val.length !== 2 || typeof val[1] !== 'number') {
          errors.push(err('bad_linked_input', 'Bad linked input, must be a length-2 list of [node_id, slot_index]', name, { ...extra, received_value: val }));
          return;
        }
        const from = String(val[0]);
        const source = prompt[from];
        if (!source) {
          errors.push(err('bad_linked_input', `Linked node ${from} does not exist`, name, { ...extra, received_value: val }));
          return;
        }
        const received = info[source.class_type as string]!.output[val[1]];
        if (received === undefined) {
          errors.push(err('bad_linked_input', `Node ${from} (${String(source.class_type)}) has no output ${val[1]}`, name, { ...extra, received_value: val }));
          return;
        }
        if (!typesMatch(received, wanted)) {
          errors.push(
            err('return_type_mismatch', 'Return type mismatch between linked nodes', `${name}, received_type(${received}) mismatch input_type(${wanted})`, {
              ...extra,
              received_type: received,
              linked_node: val,
            }),
          );
          return;
        }
        if (!validate(from)) upstreamOk = false;
        return;
      }
      const opts = (typeof spec[1] === 'object' && spec[1] !== null ? spec[1] : {}) as { min?: number; max?: number };
      if (wanted === 'INT' || wanted === 'FLOAT') {
        const n = typeof val === 'number' ? val : typeof val === 'string' && val.trim() !== '' ? Number(val) : NaN;
        if (!Number.isFinite(n) || (wanted === 'INT' && !Number.isInteger(n))) {
          errors.push(err('invalid_input_type', `Failed to convert an input ${name} value to a ${wanted} value`, `${name}, ${String(val)}`, { ...extra, received_value: val }));
          return;
        }
        if (opts.min !== undefined && n < opts.min) errors.push(err('value_smaller_than_min', `Value ${n} smaller than min of ${opts.min}`, name, { ...extra, received_value: val }));
        if (opts.max !== undefined && n > opts.max) errors.push(err('value_bigger_than_max', `Value ${n} bigger than max of ${opts.max}`, name, { ...extra, received_value: val }));
        return;
      }
      if (wanted === 'BOOLEAN' && typeof val !== 'boolean') {
        errors.push(err('invalid_input_type', `Failed to convert an input ${name} value to a BOOLEAN value`, `${name}, ${String(val)}`, { ...extra, received_value: val }));
        return;
      }
      if (wanted === 'STRING' && typeof val !== 'string') {
        errors.push(err('invalid_input_type', `Failed to convert an input ${name} value to a STRING value`, `${name}, ${String(val)}`, { ...extra, received_value: val }));
        return;
      }
      if (UPLOAD_INPUTS.has(`${classType}.${name}`)) {
        if (!uploaded(String(val))) errors.push(err('custom_validation_failed', 'Custom validation failed for node', `${name} - Invalid image file: ${String(val)}`, { ...extra, received_value: val }));
        return;
      }
      const choices = comboChoices(spec);
      if (choices && !choices.includes(val)) {
        errors.push(err('value_not_in_list', 'Value not in list', `${name}: '${String(val)}' not in ${JSON.stringify(choices.slice(0, 20))}`, { ...extra, received_value: val }));
      }
    };
    for (const [name, spec] of Object.entries(schema.input.required ?? {})) check(name, spec, true);
    for (const [name, spec] of Object.entries(schema.input.optional ?? {})) check(name, spec, false);
    return errors.length === 0 && upstreamOk;
  };

  const failedOutputs = outputs.filter((id) => !validate(id));
  if (failedOutputs.length === 0) return undefined;
  const node_errors: ValidationFailure['node_errors'] = {};
  for (const [id, errors] of checked) {
    if (errors.length) node_errors[id] = { errors, dependent_outputs: failedOutputs, class_type: prompt[id]!.class_type as string };
  }
  const details = Object.values(node_errors)
    .flatMap((n) => n.errors.map((e) => `${e.message}: ${e.details}`))
    .join('\n');
  return { error: err('prompt_outputs_failed_validation', 'Prompt outputs failed validation', details), node_errors };
}
