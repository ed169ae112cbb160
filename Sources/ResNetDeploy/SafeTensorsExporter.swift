import Foundation
import ResNetTraining

/// The model's weights as a plain safetensors file with torchvision's key names
/// (`layer1.0.conv1.weight`, BN `running_mean`/`running_var`, I64 `num_batches_tracked`): what
/// torchvision's `load_state_dict`, timm and `resnet predict --model --weights` read. For a run
/// trained with `--ema` it holds the weights the predictor uses (the average unless raw).
public enum SafeTensorsExporter {
    public static func write(_ predictor: Predictor, to url: URL) throws {
        try SafeTensors.write(predictor.model.stateDict(), metadata: ["format": "pt"], to: url)
    }
}
