import ArgumentParser
import Dispatch
import Foundation
import ResNetData
import ResNetTraining

/// `resnet train`: the seed's main job. With no options, resnet20 on the built-in Fashion-MNIST.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a ResNet on class folders or a built-in dataset, validating, checkpointing and testing.",
        discussion: """
        Writes RUN_DIR/checkpoint.safetensors (torchvision key names), checkpoint.json, optimizer.safetensors,
        best.safetensors, history.csv and history.svg. `--resume RUN_DIR --epochs N` continues exactly where it stopped.
        """)

    @OptionGroup(title: "Data") var source: DataSourceOptions
    @OptionGroup(title: "Preprocessing and augmentation (Keras ImageDataGenerator)") var augmentation: AugmentationFlags
    @Option(help: ArgumentHelp("Start from a preset: \(Recipes.names.joined(separator: ", ")); options given explicitly override its values. `--recipe list` shows what each sets.",
                               valueName: "name"))
    var recipe: String?
    @Option(help: "Model name (default resnet20, for small images).") var model: String?
    @Option(help: "Number of classes (checked against the data).") var classes: Int?
    @Option(help: "Total epochs.") var epochs: Int?
    @Option(help: "Images per batch.") var batchSize: Int?
    @Option(help: "sgd, adam or adamw.") var optimizer: String?
    @Option(help: "Base learning rate (default 0.1 for sgd, 1e-3 for adam/adamw).") var lr: Float?
    @Option(help: "SGD momentum.") var momentum: Float?
    @Option(help: "Weight decay (default 5e-4 sgd, 0 adam, 0.01 adamw).") var weightDecay: Float?
    @Option(help: "cosine, constant, linear[:EPOCHS[:MIN_LR]], onecycle[:EPOCHS[:PCT_START]], step:EVERY[:GAMMA], multistep:M1,M2[:GAMMA] or plateau.") var schedule: String?
    @Option(help: "Linear warmup epochs.") var warmupEpochs: Int?
    @Option(help: "Label smoothing epsilon.") var labelSmoothing: Float?
    @Option(help: ArgumentHelp("mixup (Zhang et al. 2018): blend each batch with itself reversed, lambda ~ Beta(ALPHA, ALPHA), soft targets; training accuracy then counts the dominant label. 0 is off; the paper uses 0.2-1.",
                               valueName: "alpha"))
    var mixup: Double?
    @Option(help: ArgumentHelp("CutMix (Yun et al. 2019): paste a box of the reversed batch, lambda ~ Beta(ALPHA, ALPHA) corrected to the box area; with --mixup, each batch picks one (p 0.5, as timm). 0 is off; the paper uses 1.",
                               valueName: "alpha"))
    var cutmix: Double?
    @Option(help: ArgumentHelp("Keep an exponential moving average of the weights (Polyak averaging, timm ModelEmaV2): ema = DECAY*ema + (1-DECAY)*weights after each step, BN statistics too. Validation, test, evaluate and predict then use it. 0 is off; e.g. 0.999.",
                               valueName: "decay"))
    var ema: Double?
    @Flag(help: "Ramp the --ema decay as min(DECAY, (1+t)/(10+t)) over optimizer steps t (TensorFlow's ExponentialMovingAverage num_updates), so the initial weights fade within the first steps instead of weighing on early validation.")
    var emaWarmup = false
    @Option(help: ArgumentHelp("Gradient accumulation (Goyal et al. 2017): K batches per optimizer step, gradients averaged over their images, so K batches of B step like one of K*B (BN still sees B). The LR schedule counts optimizer steps.",
                               valueName: "k"))
    var accumulate: Int?
    @Option(help: ArgumentHelp("Clip the global L2 norm of all gradients to MAX before each step (torch.nn.utils.clip_grad_norm_; Pascanu et al. 2013).",
                               valueName: "max"))
    var clipGradNorm: Double?
    @Option(help: ArgumentHelp("Fine-tuning: parts that do not learn, comma-separated: backbone (all but the classifier fc), stem, layer1 ... layer4 (layer3 for CIFAR models), postnorm (v2). Their batch norms keep their running statistics (Keras trainable=False).",
                               valueName: "parts"))
    var freeze: String?
    @Option(help: ArgumentHelp("Fine-tuning: the classifier's (fc) learning rate; the rest uses --lr, and the schedule scales both alike (e.g. --lr 0.01 --head-lr 0.1).",
                               valueName: "lr"))
    var headLr: Float?
    @Option(help: ArgumentHelp("Train for as many epochs as fit in MINUTES of wall time: the first epoch is timed (with validation), then the epoch count and the schedule's length (cosine, linear, onecycle) are set so the run, test included, ends on time. Replaces --epochs.",
                               valueName: "minutes"))
    var timeBudget: Double?
    @Option(help: "Data loader threads (default: all cores).") var workers: Int?
    @Option(help: "k of the top-k accuracy.") var topK: Int?
    @Option(help: "Validation metric for best checkpoint, early stopping and plateau: val_acc, val_loss, ...") var monitor: String?
    @Option(help: "Stop after this many epochs without improvement of --monitor.") var earlyStopping: Int?
    @Option(help: "Run directory (default runs/MODEL-DATASET-TIME).") var out: String?
    @Option(help: "Continue the run in this directory.") var resume: String?
    @Option(help: "Start from weights: a run directory (its EMA weights when it kept them, as evaluate and predict use) or a .safetensors file (torchvision/timm names).") var weights: String?
    @Flag(help: "Stop on an unreadable image instead of skipping it.") var strict = false
    @Option(help: "oneDNN threads (default: all cores; under mpirun, the cores shared among the ranks on this machine).") var threads: Int?
    @Flag(help: "Under mpirun: batch norm computes its batch statistics over the global batch (all ranks), with an all-reduce of per-channel sums in forward and backward, as torch's SyncBatchNorm. Without it each rank normalizes by its own batch, and the running statistics are averaged across ranks after each epoch.")
    var syncBn = false

    func run() throws {
        if recipe == "list" { return printRecipes() }
        // Started by mpirun: one rank of a data-parallel run. Otherwise a single process, no MPI.
        let communicator = Communicator.fromEnvironment()
        defer { communicator.finalize() }
        do {
            try train(communicator)
        } catch let code as ExitCode where communicator.isDistributed {
            // Stopped by a signal: every rank stops after the same step (see Trainer.stopRequested)
            // and may finalize. Any other failure may be this rank's alone, and MPI_Finalize would
            // wait for ranks blocked in a collective: end them all (the message is printed already).
            if code.rawValue <= 128 { communicator.abort(code: code.rawValue) }
            throw code
        } catch where communicator.isDistributed {
            let message = (error as? ValidationError)?.message ?? "\(error)"
            FileHandle.standardError.write(Data("error\(communicator.isRoot ? "" : " (rank \(communicator.rank))"): \(message)\n".utf8))
            communicator.abort(code: 1)
        }
    }

    private func train(_ communicator: Communicator) throws {
        let say: (String) -> Void = communicator.isRoot ? { print($0) } : { _ in }
        if let threads {
            do { try OneDNN.validateThreads(threads) } catch let error as ThreadCountError { throw ValidationError("--" + error.description) }
            OneDNN.setThreads(threads)
        } else if communicator.localSize > 1 {
            OneDNN.setThreads(max(1, ProcessInfo.processInfo.activeProcessorCount / communicator.localSize))
        }
        guard !syncBn || communicator.isDistributed || resume != nil else {
            throw ValidationError("--sync-bn shares batch statistics between the ranks of `mpirun -np N resnet train` with N > 1; this process is not one of several MPI ranks")
        }
        // Until training starts, Ctrl-C ends the process as usual: nothing has been written yet.
        let stop = StopRequest()
        var signals: SignalHandlers?
        defer { signals?.restore() }
        do {
            let trainer: Trainer
            if let resume {
                // A resumed run keeps its saved settings: that is what makes it exact.
                let conflicting = [("--model", model != nil), ("--sync-bn", syncBn), ("--lr", lr != nil), ("--batch-size", batchSize != nil),
                                   ("--optimizer", optimizer != nil), ("--mixup", mixup != nil), ("--cutmix", cutmix != nil), ("--ema", ema != nil), ("--ema-warmup", emaWarmup), ("--accumulate", accumulate != nil), ("--clip-grad-norm", clipGradNorm != nil), ("--schedule", schedule != nil), ("--out", out != nil),
                                   ("--weights", weights != nil), ("--data", source.data != nil), ("--dataset", source.dataset != nil)]
                    .filter(\.1).map(\.0) + givenFineTuningOptions
                guard conflicting.isEmpty else {
                    throw ValidationError("--resume continues \(resume) with its saved settings; only --epochs may change (drop \(conflicting.joined(separator: ", ")))")
                }
                trainer = try Trainer.resume(runDirectory: resume, epochs: epochs, communicator: communicator, say: say)
            } else {
                let settings = try makeSettings()
                if let recipe { say("recipe \(recipe): \(try Recipes.named(recipe).commandLine) (options given override these)") }
                if settings.model == "resnet20" && model == nil && recipe == nil { say("model: resnet20 (the default for small images; --model to choose)") }
                let dir = out ?? defaultRunDirectory(settings)
                trainer = try Trainer.start(settings, runDirectory: dir, weights: weights, communicator: communicator, say: say)
            }
            trainer.stopRequest = stop
            signals = SignalHandlers(stop)
            try trainer.fit()
        } catch let e as ValidationError {
            throw e
        } catch TrainingError.interrupted(let message) {
            if communicator.isRoot { FileHandle.standardError.write(Data("\n\(message)\n".utf8)) }
            throw ExitCode(128 + (signals?.first ?? SIGINT))   // the shell's code for "ended by that signal"
        } catch {
            throw CleanExit.failure("\(error)")
        }
    }

    private func makeSettings() throws -> TrainingSettings {
        var s = TrainingSettings()
        // The recipe first: every option below that was given overrides it.
        if let recipe { try Recipes.named(recipe).apply(to: &s) }
        try source.apply(to: &s)
        try augmentation.apply(to: &s)
        if let model { s.model = model }
        if let classes { s.classes = classes }
        if let epochs { s.epochs = epochs }
        if let batchSize { s.batchSize = batchSize }
        if let optimizer { s.optimizer = optimizer.lowercased() }
        if let lr { s.learningRate = lr }
        if let weightDecay { s.weightDecay = weightDecay }
        if let momentum { s.momentum = momentum }
        if let schedule { s.schedule = schedule }
        if let warmupEpochs { s.warmupEpochs = warmupEpochs }
        if let labelSmoothing { s.labelSmoothing = labelSmoothing }
        if let mixup { s.mixup = mixup }
        if let cutmix { s.cutmix = cutmix }
        if let ema { s.ema = ema }
        if emaWarmup { s.emaWarmup = true }
        if let accumulate { s.accumulate = accumulate }
        if let clipGradNorm { s.clipGradNorm = clipGradNorm }
        if let freeze { s.freeze = freeze.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
        if let headLr { s.headLR = headLr }
        if let timeBudget {
            guard epochs == nil else { throw ValidationError("--epochs and --time-budget both set the length of the run: give one") }
            s.timeBudget = timeBudget
        } else if epochs != nil {
            s.timeBudget = nil   // an explicit --epochs overrides a recipe's budget
        }
        if let workers { s.workers = workers }
        if let topK { s.topK = topK }
        if let monitor { s.monitor = monitor }
        if let earlyStopping { s.earlyStoppingPatience = earlyStopping }
        s.strict = strict
        if syncBn { s.syncBN = true }
        return s
    }

    /// The fine-tuning and recipe options given, which a resumed run may not change.
    private var givenFineTuningOptions: [String] {
        [("--freeze", freeze != nil), ("--head-lr", headLr != nil), ("--time-budget", timeBudget != nil), ("--recipe", recipe != nil)].filter(\.1).map(\.0)
    }

    /// `--recipe list`: each recipe with the options it stands for.
    private func printRecipes() {
        print("Recipes (`resnet train --recipe NAME`; options given explicitly override the recipe's):")
        for recipe in Recipes.all {
            print("  \(recipe.name): \(recipe.summary)")
            print("      \(recipe.commandLine)")
        }
    }

    private func defaultRunDirectory(_ s: TrainingSettings) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        let source = s.data.map { URL(fileURLWithPath: $0).lastPathComponent } ?? (s.dataset ?? "fashion-mnist")
        return "runs/\(s.model)-\(source)-\(f.string(from: Date()))"
    }
}

/// Ctrl-C and SIGTERM ask the trainer to stop at the next step instead of killing it mid-write;
/// a second signal ends the process at once, as users expect from a second Ctrl-C. A signal that
/// was ignored when the tool started (`nohup`, a background job) stays ignored.
final class SignalHandlers: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private var handled: [Int32] = []
    private let lock = NSLock()
    private var firstSignal: Int32?

    /// The first signal that asked for a stop.
    var first: Int32? { lock.lock(); defer { lock.unlock() }; return firstSignal }

    init(_ stop: StopRequest) {
        for (signal, name) in [(SIGINT, "Ctrl-C (SIGINT)"), (SIGTERM, "SIGTERM")] {
            let previous = Foundation.signal(signal, SIG_IGN)
            if Self.isIgnore(previous) { continue }
            handled.append(signal)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler { [unowned self] in
                self.lock.lock()
                let again = self.firstSignal != nil
                if !again { self.firstSignal = signal }
                self.lock.unlock()
                // _exit, not exit: training threads are still running, and atexit handlers must not
                // race them. Every file is written atomically, so nothing is left half-written.
                if again { _exit(128 + signal) }
                stop.request(name)
                FileHandle.standardError.write(Data("\n\(name): stopping after this step (again to quit at once)\n".utf8))
            }
            source.resume()
            sources.append(source)
        }
    }

    private static func isIgnore(_ handler: __sighandler_t?) -> Bool {
        guard let handler else { return false }
        return unsafeBitCast(handler, to: UInt.self) == unsafeBitCast(SIG_IGN, to: UInt.self)
    }

    /// Back to the default dispositions once training is over.
    func restore() {
        for source in sources { source.cancel() }
        for signal in handled { Foundation.signal(signal, SIG_DFL) }
    }
}

/// Exits non-zero with a one-line message (no usage text): errors in data or files, not in flags.
enum CleanExit {
    static func failure(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode.failure
    }
}
