/**
 * Loads the models most edits use (OpenCV, and the object and face detectors
 * on TF.js), so the first edit after start-up does not wait for them. Called in
 * each pool thread once the bot is connected; the text detector and user ONNX
 * models stay lazy, as few edits need them.
 */
import { loadBlazeFace, loadCenterNet } from './human.ts';
import { loadOpenCv } from './opencv.ts';

export async function warmModels(): Promise<void> {
  await Promise.all([loadOpenCv(), loadCenterNet(), loadBlazeFace()]);
}
