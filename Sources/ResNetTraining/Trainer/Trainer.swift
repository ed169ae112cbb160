import Foundation
import ResNetData
import ResNetModels

/// The seed's main job (Keras `model.fit` on class folders, then `evaluate` on the test split),
/// with a run directory that can be resumed exactly: same data order, augmentation draws,
/// optimizer state and learning rate as if training had never stopped.
public final class Trainer {
    public private(set) var settings: TrainingSettings
    public let run: RunDirectory
    public let model: ResNet
    public let data: PreparedData
    public private(set) var info: CheckpointInfo
    let optimizer: Optimizer
    /// The classifier's parameters, which `--head-lr` gives their own rate.
    let headParameters: [String]
    private(set) var schedule: LRSchedule?
    let plateau: ReduceLROnPlateau?
    /// The moving average of the weights (`--ema`): what validation and test evaluate when on.
    public let ema: WeightEMA?
    let say: (String) -> Void

    /// One writer per run directory: held from `start`/`resume` until `fit` returns.
    private var lock: RunLock?
    /// Set from a signal handler (or any thread) to stop at the next step; see `StopRequest`.
    public var stopRequest: StopRequest?
    /// The metric `--monitor` reads in this run: `val_acc` becomes `acc` when there is no
    /// validation split, and says so.
    public let monitor: String
    /// The clock `--time-budget` times the first epoch with (seconds); tests inject a fake one.
    public var clock: () -> Double = TimeBudget.monotonicSeconds
    /// The processes training this model together (`mpirun -np N`); `single()` without MPI.
    /// Rank 0 alone writes the run directory and prints.
    public let communicator: Communicator
    /// The fused gradient all-reduce of a data-parallel run (nil in a single process).
    let buckets: GradientBuckets?

    /// A new run in `runDirectory`, optionally starting from `weights` (a checkpoint or a foreign
    /// safetensors file). Refuses a directory that already holds a run or has a writer.
    public static func start(_ settings: TrainingSettings, runDirectory: String, weights: String? = nil,
                             communicator: Communicator = .single(),
                             say: @escaping (String) -> Void = { print($0) }) throws -> Trainer {
        var settings = settings
        // Paths are stored absolute, so `evaluate` and `--resume` work from any directory.
        settings.data = settings.data.map(Self.absolute)
        settings.datasetLocation = settings.datasetLocation.map(Self.absolute)
        try settings.validate()
        guard !runDirectory.isEmpty else { throw TrainingError.invalidOption("--out must not be empty") }
        let run = RunDirectory(runDirectory)
        func refuseExisting() throws {
            if FileManager.default.fileExists(atPath: run.info.path) {
                throw TrainingError.invalidOption("\(run.url.path) already holds a checkpoint: use --resume \(run.url.path) to continue it, or --out for a new run")
            }
        }
        try refuseExisting()
        // Data and model first: most failures happen here, and they leave no directory behind.
        let data = try PreparedData(settings, shard: try communicator.shard())
        var config = try ResNetRegistry.config(settings.model)
        config.numClasses = data.classNames.count
        config.inputChannels = data.preprocessing.channels
        config.seed = settings.seed
        try config.validateInput(height: data.preprocessing.height, width: data.preprocessing.width, batchSize: settings.batchSize)
        let model = try ResNet(config)
        if let weights {
            let source = Self.absolute(weights)
            let read = try WeightLoader.read(source)
            for note in try WeightLoader.load(read.tensors, into: model, source: read.file, allowNewHead: true) { say("note: \(note)") }
            say("loaded weights from \(read.file)")
        }
        var info = CheckpointInfo(settings: settings, modelConfig: config, classNames: data.classNames,
                                  preprocessing: data.preprocessing, epoch: 0, step: 0,
                                  learningRate: settings.resolvedLearningRate, history: [], loaderSeed: settings.seed)
        info.worldSize = communicator.isDistributed ? communicator.size : nil
        let trainer = try Trainer(settings: settings, run: run, model: model, data: data, info: info, communicator: communicator, say: say)
        try trainer.synchronizeModel()
        // Rank 0 alone writes the run directory.
        guard communicator.isRoot else { return trainer }
        // The lock file is never deleted (that would race with the next taker), so the directory
        // is made only for a run that is ready to train.
        try run.create()
        trainer.lock = try RunLock(run)
        if let warning = trainer.lock?.warning { say("warning: \(warning)") }
        try refuseExisting()   // again under the lock: another run may have started in between
        return trainer
    }

    /// Continues the run in `runDirectory` up to `epochs` epochs in total (or its saved target).
    public static func resume(runDirectory: String, epochs: Int? = nil, communicator: Communicator = .single(),
                              say: @escaping (String) -> Void = { print($0) }) throws -> Trainer {
        guard !runDirectory.isEmpty else { throw TrainingError.invalidOption("--resume must name a run directory") }
        let run = RunDirectory(runDirectory)
        guard FileManager.default.fileExists(atPath: run.info.path) else {
            throw TrainingError.checkpoint("\(run.info.path) not found: not a run directory of `resnet train`")
        }
        let lock = communicator.isRoot ? try RunLock(run) : nil
        if let warning = lock?.warning { say("warning: \(warning)") }
        var info = try run.loadInfo()
        var settings = info.settings
        if let epochs { settings.epochs = epochs }
        try settings.validate()
        let data = try PreparedData(settings, shard: try communicator.shard())
        guard data.classNames == info.classNames else {
            throw TrainingError.checkpoint("the data's classes \(data.classNames) differ from the checkpoint's \(info.classNames)")
        }
        // The preprocessing is derived from the settings: an edited block would silently be ignored.
        guard data.preprocessing == info.preprocessing else {
            throw TrainingError.checkpoint("\(run.info.path): field preprocessing \(info.preprocessing) differs from what its settings "
                + "and data give (\(data.preprocessing)); a resumed run keeps its preprocessing: restore the file or start a new run")
        }
        let model = try ResNet(info.modelConfig)
        try WeightLoader.load(try run.loadTensors(.weights, info: info), into: model, source: run.committedFile(.weights, info: info)!.path)
        let savedWorld = info.worldSize ?? 1
        if savedWorld != communicator.size {
            say("note: \(run.url.path) was trained by \(savedWorld) process(es) and resumes with \(communicator.size): "
                + "each rank's share of every epoch changes, so the data order (and the global batch) differs from an uninterrupted run")
        }
        info.worldSize = communicator.isDistributed ? communicator.size : nil
        let trainer = try Trainer(settings: settings, run: run, model: model, data: data, info: info, communicator: communicator, say: say)
        try trainer.optimizer.loadState(try run.loadTensors(.optimizer, info: info))
        if let ema = trainer.ema { try ema.load(try run.loadTensors(.ema, info: info)) }
        if let state = info.plateau { try trainer.plateau?.loadState(state) }
        trainer.info.settings = settings
        try trainer.synchronizeModel()
        trainer.lock = lock
        // Leftovers of saves that never committed (a failed or killed one) go now, under the lock,
        // and the fixed names catch up with a commit whose process died before updating them.
        if communicator.isRoot {
            run.removeUncommitted(keeping: info)
            for warning in run.refreshFixedNames(info) { say("warning: \(warning)") }
        }
        if info.stoppedEarly {
            say("\(run.url.path) stopped early after epoch \(info.epoch) (\(settings.monitor) had stopped improving): nothing to resume")
        } else if info.epoch >= settings.epochs {
            say("\(run.url.path) has completed \(info.epoch) of \(settings.epochs) epochs: nothing to train (give --epochs N above \(info.epoch) to continue)")
        } else {
            say("resuming \(run.url.path) at epoch \(info.epoch + 1) of \(settings.epochs)")
        }
        return trainer
    }

    static func absolute(_ path: String) -> String {
        path.isEmpty ? path : URL(fileURLWithPath: path).standardizedFileURL.path
    }

    init(settings: TrainingSettings, run: RunDirectory, model: ResNet, data: PreparedData, info: CheckpointInfo,
         communicator: Communicator = .single(), say: @escaping (String) -> Void) throws {
        self.settings = settings
        self.communicator = communicator
        self.run = run
        self.model = model
        self.data = data
        self.info = info
        self.say = say
        let k = min(settings.topK, data.classNames.count)
        let logged = ["loss", "acc", "top\(k)"].flatMap { [$0, "val_" + $0] }
        guard logged.contains(settings.monitor) else {
            throw TrainingError.invalidOption("--monitor \(settings.monitor) is not logged by this run; choose one of \(logged.joined(separator: ", "))")
        }
        if data.validation == nil && settings.monitor.hasPrefix("val_") {
            monitor = String(settings.monitor.dropFirst(4))
            say("note: there is no validation split, so \(settings.monitor) is not measured: \(monitor) on the training data picks the best epoch instead")
        } else {
            monitor = settings.monitor
        }
        // Started from the model as it is now (its initial or loaded weights), as timm copies it.
        ema = try settings.emaDecay.map { try WeightEMA(of: model, decay: $0, warmup: settings.emaWarmup == true) }
        if let parts = settings.freeze {
            let frozen = try LayerFreezing.freeze(parts, in: model)
            say("frozen (no updates, batch norm statistics kept): \(frozen.joined(separator: ", "))")
        }
        let lr = settings.resolvedLearningRate, wd = settings.resolvedWeightDecay
        // Frozen parameters are left out, so neither updates nor weight decay reach them.
        let params = model.trainableParameters
        switch settings.optimizer {
        case "adam": optimizer = Adam(parameters: params, learningRate: lr, weightDecay: wd)
        case "adamw": optimizer = AdamW(parameters: params, learningRate: lr, weightDecay: wd)
        default: optimizer = SGD(parameters: params, learningRate: lr, momentum: settings.momentum,
                                 nesterov: settings.nesterov && settings.momentum > 0, weightDecay: wd)
        }
        headParameters = params.map(\.name).filter { $0.hasPrefix("fc.") }
        buckets = communicator.isDistributed ? GradientBuckets(parameters: params.map(\.tensor), communicator: communicator) : nil
        if settings.schedule == "plateau" {
            schedule = nil
            plateau = ReduceLROnPlateau(learningRate: lr, configuration: .init(
                mode: settings.monitorMaximizes ? .max : .min, factor: settings.plateauFactor, patience: settings.plateauPatience))
        } else {
            schedule = try Self.schedule(settings)
            plateau = nil
        }
    }

    /// The per-step schedule of `settings` (not plateau): its bare length is `settings.epochs`.
    static func schedule(_ settings: TrainingSettings) throws -> LRSchedule {
        let base = try LRSchedule(parsing: settings.schedule, totalEpochs: settings.epochs)
        return settings.warmupEpochs > 0 ? .warmup(epochs: settings.warmupEpochs, startFactor: 0.1, then: base) : base
    }

    /// The learning rate of optimizer step `batch` of `epoch` (0-based): with `--accumulate K` the
    /// schedule counts steps, each K batches. `base` is another group's base rate (`--head-lr`): the
    /// schedule gives it the same curve, as torch's schedulers do for every parameter group.
    func learningRate(epoch: Int, batch: Int, base: Float? = nil) -> Float {
        if let plateau { return base.map { $0 * (plateau.learningRate / settings.resolvedLearningRate) } ?? plateau.learningRate }
        return schedule!.learningRate(base: base ?? settings.resolvedLearningRate, epoch: epoch, step: batch,
                                      stepsPerEpoch: stepsPerEpoch)
    }

    /// Micro-batches per optimizer step (`--accumulate`).
    var microBatches: Int { settings.accumulate ?? 1 }
    /// Optimizer steps per epoch: a last, shorter group of micro-batches steps too.
    var stepsPerEpoch: Int { (data.train.batchesPerEpoch + microBatches - 1) / microBatches }

    /// Trains up to `settings.epochs`, validating and checkpointing after every epoch, then reports
    /// the test split. Returns the test metrics (nil without a test split).
    @discardableResult
    public func fit() throws -> ClassificationMetrics? {
        guard !failed else {
            throw TrainingError.checkpoint("this trainer stopped with an error; resume \(run.url.path) to continue from its last checkpoint")
        }
        if lock == nil && communicator.isRoot {
            lock = try RunLock(run)
            if let warning = lock?.warning { say("warning: \(warning)") }
        }
        defer { lock?.release(); lock = nil }
        do {
            return try fitLocked()
        } catch {
            failed = true
            throw error
        }
    }

    /// Set when `fit` has thrown: the in-memory state may be ahead of the committed checkpoint.
    private var failed = false

    private func fitLocked() throws -> ClassificationMetrics? {
        var csv: CSVLogger?
        if communicator.isRoot {
            try run.create()
            csv = try CSVLogger(url: run.historyCSV, append: info.epoch > 0, keepingEpochsThrough: info.epoch)
        }
        defer { csv?.close() }
        let classes = data.classNames.count, topK = min(settings.topK, classes)
        say("\(model.config.name) on \(data.description): \(data.train.dataset.count) training images, \(classes) classes, "
            + "\(data.preprocessing.height)x\(data.preprocessing.width)x\(data.preprocessing.channels), \(batchDescription), "
            + "\(settings.optimizer) lr \(settings.resolvedLearningRate)\(settings.headLR.map { " (head \($0))" } ?? ""), run directory \(run.url.path)")
        if let ema {
            say("validation and test use the exponential moving average of the weights (--ema \(ema.decay)\(ema.warmup ? ", with --ema-warmup" : "")), checkpointed as ema-epochN.safetensors")
        }
        var epoch = info.epoch
        // Only a run's first epoch is timed, and the budget is spent on it: its commit records the
        // decision (timeBudgetEpochs), so a resumed run, which always has a committed epoch, keeps it.
        var budget = epoch == 0 ? settings.timeBudget.map(TimeBudget.init(minutes:)) : nil
        while epoch < settings.epochs && !info.stoppedEarly {
            try checkStop(epoch: nil, batch: nil)
            say(budget.map { "Epoch 1 (timed for --time-budget \($0.minutes) min)" } ?? "Epoch \(epoch + 1)/\(settings.epochs)")
            let started = clock()
            var validationSeconds = 0.0
            var row = try trainEpoch(epoch, classes: classes, topK: topK)
            try checkStop(epoch: epoch, batch: nil)
            if let val = data.validation {
                let validationStarted = clock()
                defer { validationSeconds = clock() - validationStarted }
                let m = try evaluate(val, classes: classes, topK: topK, epoch: epoch)
                // Weights that give a non-finite validation loss have diverged too: never save them.
                if let loss = m.loss, !loss.isFinite {
                    throw TrainingError.diverged("validation loss became \(loss) after epoch \(epoch + 1): stopped; "
                        + "\(lastGoodCheckpoint). Try a lower --lr.")
                }
                row.merge(m.values(prefix: "val_")) { $1 }
                say(String(format: "  validation\(evaluatedWeights): loss %.4f - acc %.4f - top%d %.4f", m.loss ?? .nan, m.accuracy, topK, m.topKAccuracy))
            }
            row["epoch"] = Double(epoch + 1)
            if let spent = budget {
                try decideEpochs(spent, epochSeconds: clock() - started, validationSeconds: validationSeconds)
                budget = nil
            }
            try endEpoch(epoch, row: row, csv: csv)
            epoch += 1
        }
        guard let test = data.test else { return nil }
        try checkStop(epoch: nil, batch: nil)
        let m = try evaluate(test, classes: classes, topK: topK, epoch: nil)
        say(String(format: "Test\(evaluatedWeights): loss %.4f - acc %.4f - top%d %.4f (%d images)", m.loss ?? .nan, m.accuracy, topK, m.topKAccuracy, m.count))
        return m
    }

    /// Sets the run's length from the first epoch's time and reshapes the schedule to it; the
    /// checkpoint about to be committed records both. The test is estimated from validation's pace
    /// (or, without validation, from training's).
    private func decideEpochs(_ budget: TimeBudget, epochSeconds: Double, validationSeconds: Double) throws {
        let pace = data.validation.map { validationSeconds / Double(max($0.dataset.count, 1)) }
            ?? (epochSeconds / Double(max(data.train.dataset.count, 1)))
        let testSeconds = pace * Double(data.test?.dataset.count ?? 0)
        // Rank 0's clock decides for all: every rank must train the same number of epochs.
        let epochs = communicator.broadcast(budget.epochs(epochSeconds: epochSeconds, testSeconds: testSeconds,
                                                          minimum: max(1, settings.warmupEpochs)))
        settings.epochs = epochs
        info.settings.epochs = epochs
        info.timeBudgetEpochs = epochs
        if plateau == nil { schedule = try Self.schedule(settings) }
        say(String(format: "time budget: epoch 1 took %.0f s (the test will take about %.0f s), so ", epochSeconds, testSeconds)
            + "\(epochs) epoch(s) fit in \(budget.minutes) min: training for \(epochs) epochs, schedule \(settings.schedule) over them")
    }

    /// Where a diverged run can be picked up from (before the first completed epoch, nowhere).
    private var lastGoodCheckpoint: String {
        info.epoch > 0 ? "the last good checkpoint (epoch \(info.epoch)) is intact in \(run.url.path)"
            : "no epoch had completed, so no checkpoint was saved in \(run.url.path)"
    }

    /// The weights validation and test measure: the EMA when `--ema` is on.
    var evaluatedModel: ResNet { ema?.model ?? model }
    /// "" or " (EMA weights)", for the log lines of evaluations.
    private var evaluatedWeights: String { ema == nil ? "" : " (EMA weights)" }

    /// Evaluation that a stop request cuts short, with the same message as in training.
    private func evaluate(_ loader: DataLoader, classes: Int, topK: Int, epoch: Int?) throws -> ClassificationMetrics {
        do {
            return try Evaluator.evaluate(evaluatedModel, loader: loader, classes: classes, topK: topK, stop: stopRequest)
        } catch TrainingError.interrupted {
            try checkStop(epoch: epoch, batch: nil)
            throw TrainingError.interrupted("stopped")
        }
    }

    /// Throws `.interrupted` when a stop was requested, saying what is committed and how to go on.
    private func checkStop(epoch: Int?, batch: Int?) throws {
        guard let why = stopRequest?.requested else { return }
        var at = ""
        if let epoch { at = " in epoch \(epoch + 1)" + (batch.map { ", after batch \($0) of \(data.train.batchesPerEpoch)" } ?? "") }
        let state = info.epoch > 0
            ? "the last checkpoint (epoch \(info.epoch)) is committed in \(run.url.path); continue with: resnet train --resume \(run.url.path) --epochs \(settings.epochs)"
            : "no epoch had completed, so nothing was saved in \(run.url.path)"
        throw TrainingError.interrupted("stopped by \(why)\(at): \(state)")
    }

    /// One pass over the training split with a Keras-style progress line.
    private func trainEpoch(_ epoch: Int, classes: Int, topK: Int) throws -> [String: Double] {
        model.train()
        var metrics = ClassificationMetrics(classes: classes, topK: topK)
        let loader = data.train
        let mixing = settings.batchMixing
        let bar = ProgressBar(total: loader.batchesPerEpoch, output: communicator.isRoot ? ProgressBar.standardOutput : { _ in })
        let iterator = loader.epoch(epoch)
        let start = Date()
        var batchIndex = 0, images = 0
        var lr = learningRate(epoch: epoch, batch: 0)
        var headLR: Float?
        var accumulation = GradientAccumulation(microBatches: microBatches)
        buckets?.resetTimes()
        while let batch = try iterator.next() {
            lr = learningRate(epoch: epoch, batch: batchIndex / microBatches)
            headLR = settings.headLR.map { learningRate(epoch: epoch, batch: batchIndex / microBatches, base: $0) }
            // mixup / CutMix: mixed images against soft targets; accuracy counts the dominant label.
            let mixed = mixing.mix(batch, classes: classes, seed: settings.seed)
            let logits = model(mixed.map { Tensor(shape: [batch.count, batch.height, batch.width, batch.channels], values: $0.images) } ?? batch.tensor)
            let loss = mixed.map { crossEntropy(logits, targets: Tensor(shape: [batch.count, classes], values: $0.targets), labelSmoothing: settings.labelSmoothing) }
                ?? crossEntropy(logits, labels: LabelTensor(batch.labels), labelSmoothing: settings.labelSmoothing)
            let value = loss.scalar
            guard value.isFinite else {
                iterator.cancel()
                throw TrainingError.diverged("loss became \(value) at epoch \(epoch + 1), batch \(batchIndex + 1): stopped; "
                    + "\(lastGoodCheckpoint). Try a lower --lr.")
            }
            // Each gradient bucket's all-reduce starts as soon as backward has finished its gradients
            // (with --accumulate, after the group's mean is taken, in `step`).
            accumulation.backward(loss, count: batch.count, whenFinal: microBatches == 1 ? buckets.map { b in { b.parameterFinished($0) } } : nil)
            if accumulation.isComplete { step(&accumulation, lr: lr, headLR: headLR) }
            metrics.add(logits: logits, labels: mixed?.dominantLabels ?? batch.labels, loss: Double(value))
            batchIndex += 1
            images += batch.count
            if stopRequested() {
                iterator.cancel()
                bar.finish(values: [("loss", metrics.loss ?? .nan), ("acc", metrics.accuracy)])
                try checkStop(epoch: epoch, batch: batchIndex)
            }
            let elapsed = Date().timeIntervalSince(start)
            var extra = String(format: "%.0f img/s", Double(images) / max(elapsed, 1e-9))
            let wait = iterator.statistics.waitSeconds / max(elapsed, 1e-9)
            if wait > 0.05 { extra += String(format: " - data wait %.0f%%", wait * 100) }
            bar.update(batchIndex, values: [("loss", metrics.loss ?? .nan), ("acc", metrics.accuracy), ("top\(topK)", metrics.topKAccuracy)],
                       extra: extra)
        }
        // The epoch's last, shorter group of micro-batches.
        if accumulation.pending > 0 { step(&accumulation, lr: lr, headLR: headLR) }
        bar.finish(values: [("loss", metrics.loss ?? .nan), ("acc", metrics.accuracy), ("top\(topK)", metrics.topKAccuracy)])
        if !iterator.statistics.skipped.isEmpty {
            say("warning: skipped \(iterator.statistics.skipped.count) unreadable image(s) this epoch")
        }
        var row = averagedOverRanks(metrics.values(), images: images)
        // Every rank leaves the epoch with the same model: batch norm's running statistics, which
        // each rank moved with its own batches, become their mean (with --sync-bn they are equal).
        if communicator.isDistributed && settings.syncBN != true { communicator.average(model.namedBuffers.map(\.tensor)) }
        if let buckets, buckets.steps > 0 {
            let started = buckets.startedDuringBackward + buckets.startedAfterBackward
            say(String(format: "  all-reduce: %.3f s per step waiting for gradient sums after backward (%d steps, %d bucket(s) of at most %d MB, "
                       + "%d of %d started during backward, %d ranks)",
                       buckets.waitSeconds / Double(buckets.steps), buckets.steps, buckets.layout.count,
                       GradientBuckets.defaultCapacityBytes >> 20, buckets.startedDuringBackward, started, communicator.size))
        }
        row["lr"] = Double(lr)
        row["time"] = Date().timeIntervalSince(start)   // seconds of the training pass, as Keras prints per epoch
        return row
    }

    /// One optimizer step from the accumulated gradients: averaged over the group, clipped, applied,
    /// then the moving average follows.
    private func step(_ accumulation: inout GradientAccumulation, lr: Float, headLR: Float?) {
        accumulation.finish(optimizer.parameters)
        buckets?.finish()   // the mean of the ranks' gradients: each saw its own shard of the global batch
        if let maxNorm = settings.clipGradNorm { GradientClipping.clip(optimizer.parameters, maxNorm: maxNorm) }
        optimizer.learningRate = lr
        if let headLR { for name in headParameters { optimizer.parameterLearningRates[name] = headLR } }
        optimizer.step()
        ema?.update(step: info.step)
        optimizer.zeroGrad()
        info.step += 1
    }

    /// History, plots, callbacks and the checkpoint, in that order: the checkpoint is the commit,
    /// and this trainer's `info` becomes the new state only once it has committed.
    private func endEpoch(_ epoch: Int, row: [String: Double], csv: CSVLogger?) throws {
        var next = info
        next.history.append(row)
        next.epoch = epoch + 1
        if let csv {
            try csv.log(epoch: epoch + 1, metrics: row.filter { $0.key != "epoch" })
            try HistoryPlot.write(history: next.history, title: "\(model.config.name) on \(data.description)", to: run.historySVG)
        }
        var improved = false
        if let value = row[monitor], value.isFinite {
            let better = next.bestMetric.map { settings.monitorMaximizes ? value > $0 : value < $0 } ?? true
            if better {
                improved = true
                next.bestMetric = value
                next.bestEpoch = epoch + 1
            }
            if let plateau, let newLR = plateau.update(metric: value) {
                say(String(format: "  reducing learning rate to %.3g (%@ has not improved for %d epochs)", newLR, monitor, settings.plateauPatience))
            }
        }
        if let patience = settings.earlyStoppingPatience, let best = next.bestEpoch, epoch + 1 - best >= max(patience, 1) {
            next.stoppedEarly = true
            say("early stopping: \(monitor) has not improved since epoch \(best)")
        }
        next.plateau = plateau?.state
        next.learningRate = learningRate(epoch: epoch + 1, batch: 0)
        // The best file holds the weights that earned the metric: the EMA when it is on, committed
        // once as the EMA file under both names.
        guard communicator.isRoot else {
            // Every rank keeps the same position; only rank 0 writes it, and the others wait for
            // the commit so that no rank runs ahead of the last checkpoint.
            communicator.barrier()
            info = next
            return
        }
        let best: RunDirectory.BestWeights? = improved ? (ema == nil ? RunDirectory.BestWeights.tensors(model.stateDict()) : .ema) : nil
        let committed = try run.commit(next, after: info.epoch, model: model.stateDict(), optimizer: optimizer.state,
                                       best: best, ema: ema?.state)
        communicator.barrier()
        info = committed.info
        for warning in committed.warnings { say("warning: \(warning)") }
        if improved {
            say(String(format: "  %@ improved to %.4f: saved %@", monitor, next.bestMetric!, RunDirectory.bestFile))
        }
    }
}

/// Data-parallel training (`mpirun -np N resnet train`): what the trainer does beside a single
/// process's work so that N ranks train one model.
extension Trainer {
    /// "batch B" or "batch B per rank x N ranks = global batch B*N".
    var batchDescription: String {
        communicator.isDistributed
            ? "batch \(settings.batchSize) per rank x \(communicator.size) ranks = global batch \(settings.batchSize * communicator.size)"
                + (settings.syncBN == true ? " (--sync-bn: batch norm over the global batch)" : "")
            : "batch \(settings.batchSize)"
    }

    /// Rank 0's parameters and buffers on every rank, then checked bit-identical (a rank that
    /// loaded other weights, or a broadcast that went wrong, would otherwise train apart unseen).
    func synchronizeModel() throws {
        guard communicator.isDistributed else { return }
        let state = model.namedParameters.map(\.tensor) + model.namedBuffers.map(\.tensor)
        communicator.broadcast(state)
        if let ema { communicator.broadcast(ema.model.namedParameters.map(\.tensor) + ema.model.namedBuffers.map(\.tensor)) }
        guard communicator.holdSameValues(state) else {
            throw TrainingError.invalidOption("rank \(communicator.rank): the model's parameters differ from rank 0's after the broadcast")
        }
        if settings.syncBN == true {
            for case let bn as BatchNorm2D in model.modules { bn.crossProcess = communicator }
        }
    }

    /// Whether any rank was asked to stop: all ranks stop after the same step, so none is left
    /// waiting in an all-reduce.
    func stopRequested() -> Bool {
        let local = stopRequest?.requested != nil
        guard communicator.isDistributed else { return local }
        let any = communicator.any(local)
        if any && !local { stopRequest?.request("a stop on another rank") }
        return any
    }

    /// The epoch's training metrics over every rank's shard (each rank's mean weighted by its images).
    func averagedOverRanks(_ row: [String: Double], images: Int) -> [String: Double] {
        guard communicator.isDistributed else { return row }
        let keys = row.keys.sorted()
        var sums = keys.map { (row[$0] ?? 0) * Double(images) } + [Double(images)]
        communicator.allReduceSum(&sums)
        let total = max(sums.last!, 1)
        return Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, sums[$0] / total) })
    }
}

extension Communicator {
    /// This rank's share of every training epoch.
    func shard() throws -> DataShard { try DataShard(rank: rank, count: size) }
}
