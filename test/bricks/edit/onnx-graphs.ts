/** Tiny ONNX graphs built in the test, to exercise the user-model loading path without any downloaded weights. */
import onnxProto, { type onnx } from 'onnx-proto';

// onnx-proto is CommonJS: its namespace object arrives as the default export.
const P = onnxProto.onnx;

const FLOAT = P.TensorProto.DataType.FLOAT;
const STRING = P.TensorProto.DataType.STRING;

type Dim = number | string;

function valueInfo(name: string, dims: readonly Dim[], elemType: number = FLOAT): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function model(graph: onnx.IGraphProto): Uint8Array {
  return P.ModelProto.encode(
    P.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], producerName: 'lego-edit-test', graph }),
  ).finish();
}

const one: onnx.ITensorProto = { name: 'one', dataType: FLOAT, dims: [], floatData: [1] };

/** LaMa-shaped inpainter: image [1,3,h,w] and mask [1,1,h,w] in, the image's negative (1 − x) out. */
export function negativeInpainter(opts: { prompt?: boolean } = {}): Uint8Array {
  const inputs = [valueInfo('image', [1, 3, 'h', 'w']), valueInfo('mask', [1, 1, 'h', 'w'])];
  if (opts.prompt) inputs.push(valueInfo('prompt', [1], STRING));
  return model({
    name: 'negative',
    initializer: [one],
    input: inputs,
    output: [valueInfo('output', [1, 3, 'h', 'w'])],
    node: [{ opType: 'Sub', input: ['one', 'image'], output: ['output'] }],
  });
}

/** Segmenter with a static 64×64 input: the mean of the three (normalised) channels, i.e. brightness, as the mask. */
export function brightnessSegmenter(size = 64): Uint8Array {
  return model({
    name: 'brightness',
    input: [valueInfo('input', [1, 3, size, size])],
    output: [valueInfo('mask', [1, 1, size, size])],
    node: [{ opType: 'ReduceMean', input: ['input'], output: ['mask'], attribute: [{ name: 'axes', type: P.AttributeProto.AttributeType.INTS, ints: [1] }, { name: 'keepdims', type: P.AttributeProto.AttributeType.INT, i: 1 }] }],
  });
}
