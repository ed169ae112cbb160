/// mixup (Zhang, Cisse, Dauphin and Lopez-Paz, "mixup: Beyond Empirical Risk Minimization", ICLR
/// 2018) and CutMix (Yun, Han, Oh, Chun, Choe and Yoo, "CutMix: Regularization Strategy to Train
/// Strong Classifiers with Localizable Features", ICCV 2019) on a whole batch, as timm's `Mixup`
/// does in its default per-batch mode:
///
/// - one lambda ~ Beta(alpha, alpha) per batch; with both on, each batch is CutMix or mixup with
///   probability 0.5 each (timm's `switch_prob`);
/// - image i is mixed with image N-1-i (the batch reversed, timm's `x.flip(0)`): mixup blends the
///   pixels, lambda x_i + (1 - lambda) x_{N-1-i}; CutMix pastes a box of x_{N-1-i} into x_i;
/// - the CutMix box has sides sqrt(1 - lambda) times the image's, centred at a uniform pixel and
///   clipped to the image (Yun et al.'s `rand_bbox`), and lambda becomes 1 - box area / image area,
///   what the image really holds (timm's `correct_lam`);
/// - targets: lambda one-hot(y_i) + (1 - lambda) one-hot(y_{N-1-i}); label smoothing, when on, is
///   applied on top by the loss.
///
/// Every draw comes from a stream seeded by (seed, epoch, batch index), so a resumed run mixes
/// exactly as the run that never stopped.
public struct BatchMixing: Equatable, Sendable {
    /// Beta(alpha, alpha) for mixup; 0 is off.
    public var mixupAlpha: Double
    /// Beta(alpha, alpha) for CutMix; 0 is off.
    public var cutmixAlpha: Double

    public init(mixupAlpha: Double = 0, cutmixAlpha: Double = 0) {
        self.mixupAlpha = mixupAlpha
        self.cutmixAlpha = cutmixAlpha
    }

    public static let none = BatchMixing()
    public var isNone: Bool { mixupAlpha == 0 && cutmixAlpha == 0 }
    /// The chance of CutMix when both are on (timm's default `switch_prob`).
    public static let switchProbability = 0.5
    /// Upper bound on either alpha: the papers use 0.1 to 1; far above, Beta(a, a) is 0.5 always.
    public static let maxAlpha = 100.0

    /// A non-finite or negative alpha would give NaN lambdas (and NaN targets) on every batch.
    public func validate() throws {
        for (alpha, option) in [(mixupAlpha, "--mixup"), (cutmixAlpha, "--cutmix")] {
            guard alpha.isFinite, (0...Self.maxAlpha).contains(alpha) else {
                throw DataError.invalidArgument("\(option) must be a finite alpha in [0, \(Self.maxAlpha)] (0 is off), got \(alpha)")
            }
        }
    }

    /// What one batch gets: the kind, lambda (for CutMix, corrected to the box) and CutMix's box
    /// (rows `top..<bottom`, columns `left..<right`; nil for mixup).
    public struct Draw: Equatable, Sendable {
        public var lambda: Double
        public var box: (top: Int, left: Int, bottom: Int, right: Int)?

        public var isCutMix: Bool { box != nil }

        public static func == (a: Draw, b: Draw) -> Bool {
            a.lambda == b.lambda && a.box?.top == b.box?.top && a.box?.left == b.box?.left
                && a.box?.bottom == b.box?.bottom && a.box?.right == b.box?.right && (a.box == nil) == (b.box == nil)
        }
    }

    /// The draw of batch `batch` of `epoch` for `height` x `width` images (nil when off).
    public func draw(seed: UInt64, epoch: Int, batch: Int, height: Int, width: Int) -> Draw? {
        guard !isNone else { return nil }
        var rng = SampleRandom(seed: seed, epoch: epoch, index: batch, salt: RandomSalt.batchMixing)
        let cutmix = mixupAlpha == 0 || (cutmixAlpha > 0 && rng.uniform(0, 1) < Self.switchProbability)
        let alpha = cutmix ? cutmixAlpha : mixupAlpha
        let lambda = rng.beta(alpha, alpha)
        guard cutmix else { return Draw(lambda: lambda, box: nil) }
        return Self.cutmixBox(lambda: lambda, height: height, width: width, rng: &rng)
    }

    /// Yun et al.'s box for `lambda`: sides int(H sqrt(1 - lambda)) and int(W sqrt(1 - lambda)), centre
    /// uniform over the pixels, clipped to the image; lambda corrected to 1 - area / (H W).
    public static func cutmixBox(lambda: Double, height: Int, width: Int, rng: inout SampleRandom) -> Draw {
        let ratio = (1 - lambda).squareRoot()
        let cutH = Int(Double(height) * ratio), cutW = Int(Double(width) * ratio)
        let cy = rng.below(height), cx = rng.below(width)
        let top = min(max(cy - cutH / 2, 0), height), bottom = min(max(cy + cutH / 2, 0), height)
        let left = min(max(cx - cutW / 2, 0), width), right = min(max(cx + cutW / 2, 0), width)
        let area = Double((bottom - top) * (right - left))
        return Draw(lambda: 1 - area / Double(height * width), box: (top, left, bottom, right))
    }

    /// `batch` mixed as `draw` says, with its soft targets over `classes` classes.
    public static func apply(_ draw: Draw, to batch: ImageBatch, classes: Int) -> MixedBatch {
        let n = batch.count, h = batch.height, w = batch.width, c = batch.channels
        let perImage = h * w * c
        let source = batch.images
        var images = source
        let lambda = Float(draw.lambda), rest = Float(1 - draw.lambda)
        for i in 0..<n {
            let j = n - 1 - i, base = i * perImage, other = j * perImage
            if let box = draw.box {
                for y in box.top..<box.bottom {
                    let row = (y * w + box.left) * c, count = (box.right - box.left) * c
                    for k in 0..<count { images[base + row + k] = source[other + row + k] }
                }
            } else {
                for k in 0..<perImage { images[base + k] = lambda * source[base + k] + rest * source[other + k] }
            }
        }
        var targets = [Float](repeating: 0, count: n * classes)
        var dominant = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            let mine = Int(batch.labels[i]), partner = Int(batch.labels[n - 1 - i])
            precondition((0..<classes).contains(mine), "label \(mine) out of range for \(classes) classes")
            targets[i * classes + mine] += lambda
            targets[i * classes + partner] += rest
            dominant[i] = draw.lambda >= 0.5 ? batch.labels[i] : batch.labels[n - 1 - i]
        }
        return MixedBatch(images: images, targets: targets, dominantLabels: dominant, draw: draw)
    }

    /// Batch `batch.batchIndex` of `batch.epoch`, mixed with the draws of `seed` (nil when off).
    public func mix(_ batch: ImageBatch, classes: Int, seed: UInt64) -> MixedBatch? {
        guard let d = draw(seed: seed, epoch: batch.epoch, batch: batch.batchIndex, height: batch.height, width: batch.width) else { return nil }
        return Self.apply(d, to: batch, classes: classes)
    }
}

/// A mixed batch: NHWC images, [N, classes] soft targets whose rows sum to 1, and each row's
/// dominant label (the one with weight >= 0.5), against which training accuracy is counted.
public struct MixedBatch: Sendable {
    public var images: [Float]
    public var targets: [Float]
    public var dominantLabels: [Int32]
    public var draw: BatchMixing.Draw
}
