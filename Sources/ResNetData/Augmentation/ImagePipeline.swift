/// Everything between a decoded image and its slot in a batch: 8-bit geometric steps
/// (resize, crops, the padded random crop), RandAugment and colour jitter, then one affine warp
/// that also rescales and normalises into floats, then random erasing on the floats.
/// All randomness comes from the per-sample stream, so results do not depend on threads.
public struct ImagePipeline: Sendable {
    /// 8-bit steps, applied in order before the affine augmentation.
    public enum Step: Sendable, Equatable {
        case resize(height: Int, width: Int, filter: ResizeFilter)
        /// Shorter side to this many pixels, keeping the aspect ratio.
        case resizeShorterSide(Int, filter: ResizeFilter)
        case centerCrop(height: Int, width: Int)
        case randomResizedCrop(height: Int, width: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>, filter: ResizeFilter)
    }

    /// 1 (gray) or 3 (RGB); decoders convert to this.
    public var channels: Int
    public var steps: [Step]
    public var augmentation: AffineAugmentation
    /// CIFAR-style random crop after the steps: pad by this many zero pixels on each side, crop
    /// back at a random offset (`Crop.randomPadded`); 0 is off. At most half the smaller side.
    public var randomCropPadding: Int
    /// Random Erasing on the rescaled, normalised floats (Zhong et al. 2017; see `RandomErasing`).
    public var randomErasing: RandomErasing
    /// RandAugment (Cubuk et al. 2020) on the 8-bit image after the crops; see `RandAugment`.
    public var randAugment: RandAugment
    /// torchvision `ColorJitter` on the 8-bit image, after RandAugment (timm's order).
    public var colorJitter: ColorJitter
    /// Multiplies pixel values after the transform (Keras `rescale`, e.g. 1/255).
    public var rescale: Float
    /// Per-channel mean and std subtracted/divided after rescaling (ImageNet recipes).
    public var mean: [Float]?
    public var std: [Float]?

    public init(channels: Int = 3, steps: [Step] = [], augmentation: AffineAugmentation = .none,
                rescale: Float = 1, mean: [Float]? = nil, std: [Float]? = nil,
                randomCropPadding: Int = 0, randomErasing: RandomErasing = .none,
                randAugment: RandAugment = .none, colorJitter: ColorJitter = .none) {
        self.channels = channels
        self.steps = steps
        self.augmentation = augmentation
        self.randomCropPadding = randomCropPadding
        self.randomErasing = randomErasing
        self.randAugment = randAugment
        self.colorJitter = colorJitter
        self.rescale = rescale
        self.mean = mean
        self.std = std
    }

    /// Keras `flow_from_directory` + `ImageDataGenerator`: nearest resize to the target size,
    /// the random affine transform, then rescale.
    public static func keras(height: Int, width: Int, channels: Int = 3, augmentation: AffineAugmentation = .none,
                             rescale: Float = 1.0 / 255, filter: ResizeFilter = .nearest) -> ImagePipeline {
        ImagePipeline(channels: channels, steps: [.resize(height: height, width: width, filter: filter)],
                      augmentation: augmentation, rescale: rescale)
    }

    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    /// torchvision's evaluation recipe: shorter side to `resize` (bilinear), centre crop `size`,
    /// [0,1] then ImageNet mean/std.
    public static func imageNetEvaluation(size: Int = 224, resize: Int = 256) -> ImagePipeline {
        ImagePipeline(channels: 3, steps: [.resizeShorterSide(resize, filter: .bilinear), .centerCrop(height: size, width: size)],
                      rescale: 1.0 / 255, mean: imageNetMean, std: imageNetStd)
    }

    /// torchvision's training recipe: RandomResizedCrop(size), horizontal flip, normalise.
    public static func imageNetTraining(size: Int = 224) -> ImagePipeline {
        ImagePipeline(channels: 3, steps: [.randomResizedCrop(height: size, width: size, scale: 0.08...1, ratio: (3.0 / 4)...(4.0 / 3), filter: .bilinear)],
                      augmentation: AffineAugmentation(horizontalFlip: true), rescale: 1.0 / 255, mean: imageNetMean, std: imageNetStd)
    }

    /// Largest output height or width a step may ask for: 16x ImageNet's 256, and small enough
    /// that one image (4096 x 4096 x 3 floats, 192 MiB) cannot exhaust memory by itself.
    public static let maxSide = 4096

    /// Rejects settings that would fail later (or poison every batch with nan), with a message
    /// naming the option; called before any image buffer is allocated.
    public func validate() throws {
        guard channels == 1 || channels == 3 else { throw DataError.invalidArgument("channels must be 1 or 3, got \(channels)") }
        guard rescale.isFinite else { throw DataError.invalidArgument("--rescale must be a finite number, got \(rescale)") }
        for (name, values) in [("mean", mean), ("std", std)] {
            guard let values else { continue }
            guard values.count == channels || values.count == 1 else {
                throw DataError.invalidArgument("mean/std need 1 or \(channels) values, got \(values.count) for \(name)")
            }
            guard values.allSatisfy({ $0.isFinite }) else { throw DataError.invalidArgument("\(name) must be finite numbers, got \(values)") }
        }
        if let std, std.contains(where: { !($0 > 0) }) { throw DataError.invalidArgument("std must be above 0, got \(std)") }
        try augmentation.validate()
        try randomErasing.validate()
        try randAugment.validate()
        try colorJitter.validate()
        if randomCropPadding != 0 {
            // The one check of --random-crop (training settings and `data` run it through here):
            // against the output of the steps when it is known, else against the largest side.
            let side = outputSize(input: nil).map { min($0.height, $0.width) } ?? Self.maxSide
            guard randomCropPadding >= 0, randomCropPadding <= side / 2 else {
                throw DataError.invalidArgument("--random-crop must be between 0 and \(side / 2) (half the \(side)-pixel image side), got \(randomCropPadding)")
            }
        }
        let sizeLimit = "between 1 and \(Self.maxSide)"
        for step in steps {
            switch step {
            case let .resize(h, w, _), let .centerCrop(h, w), let .randomResizedCrop(h, w, _, _, _):
                guard (1...Self.maxSide).contains(h) && (1...Self.maxSide).contains(w) else {
                    throw DataError.invalidArgument("image height and width must be \(sizeLimit), got \(h)x\(w)")
                }
            case let .resizeShorterSide(side, _):
                guard (1...Self.maxSide).contains(side) else {
                    throw DataError.invalidArgument("shorter-side size must be \(sizeLimit), got \(side)")
                }
            }
            if case let .randomResizedCrop(_, _, scale, ratio, _) = step {
                guard scale.lowerBound > 0, scale.upperBound <= 1, ratio.lowerBound > 0, ratio.upperBound.isFinite else {
                    throw DataError.invalidArgument("random-resized-crop needs scale within (0, 1] and a positive, finite ratio")
                }
            }
        }
    }

    /// What the decoder may shrink to: only the first step matters, later ones see its output.
    public var sizeHint: DecodeSizeHint {
        switch steps.first {
        case let .resize(h, w, _)?: return .atLeast(width: w, height: h)
        case let .resizeShorterSide(side, _)?: return .shorterSideAtLeast(side)
        default: return .fullSize
        }
    }

    /// The output (height, width) for inputs of size `input`, or nil when it varies per image.
    public func outputSize(input: (height: Int, width: Int)?) -> (height: Int, width: Int)? {
        var size = input
        for step in steps {
            switch step {
            case let .resize(h, w, _), let .centerCrop(h, w), let .randomResizedCrop(h, w, _, _, _): size = (h, w)
            case let .resizeShorterSide(side, _):
                size = size.map { Resize.shorterSideSize(height: $0.height, width: $0.width, side: side) }
            }
        }
        return size
    }

    /// Runs the 8-bit steps.
    public func prepare(_ image: PixelImage, rng: inout SampleRandom) -> PixelImage {
        var img = image
        for step in steps {
            switch step {
            case let .resize(h, w, filter):
                img = Resize.resize(img, height: h, width: w, filter: filter)
            case let .resizeShorterSide(side, filter):
                let size = Resize.shorterSideSize(height: img.height, width: img.width, side: side)
                img = Resize.resize(img, height: size.height, width: size.width, filter: filter)
            case let .centerCrop(h, w):
                img = Crop.center(img, height: h, width: w)
            case let .randomResizedCrop(h, w, scale, ratio, filter):
                let box = Crop.randomResizedBox(height: img.height, width: img.width, scale: scale, ratio: ratio, rng: &rng)
                img = Resize.resize(Crop.crop(img, top: box.top, left: box.left, height: box.height, width: box.width),
                                    height: h, width: w, filter: filter)
            }
        }
        return Crop.randomPadded(img, pad: randomCropPadding, rng: &rng)
    }

    /// Per-channel (scale, bias) so that output = pixel * scale + bias = (pixel*rescale - mean)/std.
    public var affineScaleBias: (scale: [Float], bias: [Float]) {
        let m = mean.map { $0.count == 1 ? Array(repeating: $0[0], count: channels) : $0 } ?? Array(repeating: 0, count: channels)
        let s = std.map { $0.count == 1 ? Array(repeating: $0[0], count: channels) : $0 } ?? Array(repeating: 1, count: channels)
        return ((0..<channels).map { rescale / s[$0] }, (0..<channels).map { -m[$0] / s[$0] })
    }

    /// Full processing of one decoded image into `out` (height*width*channels floats, HWC).
    /// Returns the output size; the caller checks it matches the batch.
    @discardableResult
    public func process(_ image: PixelImage, rng: inout SampleRandom, into out: UnsafeMutablePointer<Float>) -> (height: Int, width: Int) {
        var prepared = prepare(image, rng: &rng)
        prepared = colorJitter.apply(to: randAugment.apply(to: prepared, rng: &rng), rng: &rng)
        let params = augmentation.isNone ? AffineParameters() : augmentation.draw(height: prepared.height, width: prepared.width, rng: &rng)
        let (scale, bias) = affineScaleBias
        AffineWarp.warp(prepared, matrix: params.matrix(height: prepared.height, width: prepared.width),
                        outHeight: prepared.height, outWidth: prepared.width,
                        fill: augmentation.fillMode, cval: augmentation.cval, scale: scale, bias: bias, into: out)
        randomErasing.apply(to: out, height: prepared.height, width: prepared.width, channels: channels,
                            scale: scale, bias: bias, rng: &rng)
        return (prepared.height, prepared.width)
    }

    /// Convenience for tests and single images: process into a new array.
    public func process(_ image: PixelImage, rng: inout SampleRandom) -> (pixels: [Float], height: Int, width: Int) {
        let size = outputSize(input: (image.height, image.width)) ?? (image.height, image.width)
        var out = [Float](repeating: 0, count: size.height * size.width * channels)
        out.withUnsafeMutableBufferPointer { buf in
            _ = process(image, rng: &rng, into: buf.baseAddress!)
        }
        return (out, size.height, size.width)
    }
}
