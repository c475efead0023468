//! Training flags from the shell against PyTorch, in f64: the weights after
//! training and the `lr` column of `--log`, for each `--lr-schedule`,
//! `--clip-grad-norm`, `--class-weights` and `--save-best`.
//!
//! Every run: the same 12 rows (3 inputs, classes 0/1/2 six, four and two
//! times), `linear(3,4), tanh, linear(4,3)` from the same `--init` file,
//! cross-entropy, SGD with momentum 0.9, batches of 4 in file order
//! (`--no-shuffle`). The expected values were printed by this script
//! (torch 2.15, CPU, float64):
//!
//! ```python
//! import torch, numpy as np
//! torch.set_default_dtype(torch.float64)
//! # Data: 12 rows, 3 inputs, 3 classes; validation: 6 rows.
//! def rows(n, off):
//!     X = np.array([[np.sin(i + off), np.cos(2 * i + off), ((i * 7 + off) % 5) / 5.0] for i in range(n)])
//!     y = np.array([0 if (i + int(off)) % 2 == 0 else (1 if (i + int(off)) % 3 != 0 else 2) for i in range(n)])
//!     return X, y
//! X, y = rows(12, 0.0); Xv, yv = rows(6, 1.0)
//! def init():
//!     w0 = np.array([[0.1 * ((i * 3 + j) % 7) - 0.3 for j in range(3)] for i in range(4)])
//!     b0 = np.array([0.05 * i - 0.1 for i in range(4)])
//!     w2 = np.array([[0.2 * ((i + 2 * j) % 5) - 0.4 for j in range(4)] for i in range(3)])
//!     b2 = np.array([0.1, -0.1, 0.0])
//!     return w0, b0, w2, b2
//! def run(schedule=None, clip=None, weights=None, val=False, save_best=False, epochs=8, lr=0.1):
//!     net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
//!     w0, b0, w2, b2 = init()
//!     with torch.no_grad():
//!         net[0].weight.copy_(torch.tensor(w0)); net[0].bias.copy_(torch.tensor(b0))
//!         net[2].weight.copy_(torch.tensor(w2)); net[2].bias.copy_(torch.tensor(b2))
//!     opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
//!     sched = None
//!     if schedule:
//!         kind, *a = schedule.split(':')
//!         if kind == 'step': sched = torch.optim.lr_scheduler.StepLR(opt, int(a[0]), float(a[1]))
//!         if kind == 'exponential': sched = torch.optim.lr_scheduler.ExponentialLR(opt, float(a[0]))
//!         if kind == 'cosine': sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, int(a[0]), float(a[1]))
//!         if kind == 'plateau': sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode='min', patience=int(a[0]), factor=float(a[1]))
//!     w = None if weights is None else torch.tensor(weights)
//!     lossf = torch.nn.CrossEntropyLoss(weight=w)
//!     xt, yt = torch.tensor(X), torch.tensor(y)
//!     lrs = []; best = None
//!     for e in range(epochs):
//!         lrs.append(opt.param_groups[0]['lr'])
//!         total = 0.0
//!         for s in range(0, 12, 4):
//!             opt.zero_grad()
//!             loss = lossf(net(xt[s:s+4]), yt[s:s+4])
//!             loss.backward()
//!             if clip: torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
//!             opt.step(); total += loss.item() * 4
//!         monitored = total / 12
//!         if val:
//!             with torch.no_grad(): monitored = lossf(net(torch.tensor(Xv)), torch.tensor(yv)).item()
//!         if save_best and (best is None or monitored < best[0]):
//!             best = (monitored, [p.detach().clone() for p in net.parameters()])
//!         if sched is not None:
//!             if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau): sched.step(monitored)
//!             else: sched.step()
//!     params = best[1] if save_best else [p.detach() for p in net.parameters()]
//!     flat = np.concatenate([p.numpy().ravel() for p in params])
//!     return flat, lrs
//! cases = {
//!     'constant': dict(),
//!     'step': dict(schedule='step:3:0.5'),
//!     'exponential': dict(schedule='exponential:0.8'),
//!     'cosine': dict(schedule='cosine:3:0.01'),
//!     'plateau_train': dict(schedule='plateau:1:0.5', epochs=20, lr=3.0),
//!     'plateau_val': dict(schedule='plateau:0:0.5', val=True, epochs=20, lr=0.3),
//!     'clip': dict(clip=0.05),
//!     'weights': dict(weights=[1.0, 2.0, 0.5]),
//!     'auto': dict(weights=[12 / (3 * np.sum(y == c)) for c in range(3)]),
//!     'save_best': dict(val=True, save_best=True, epochs=12),
//! }
//! print("// rows:", X.tolist(), y.tolist())
//! for name, kw in cases.items():
//!     flat, lrs = run(**kw)
//!     print(f"const {name.upper()}: ([f64; {len(flat)}], [f64; {len(lrs)}]) = (")
//!     print("    [" + ", ".join(repr(float(v)) for v in flat) + "],")
//!     print("    [" + ", ".join(repr(float(v)) for v in lrs) + "],")
//!     print(");")
//! print("// auto weights", [12 / (3 * np.sum(y == c)) for c in range(3)], "counts", [int(np.sum(y == c)) for c in range(3)])
//! ```

use std::fs;
use std::path::Path;

use crate::common::{run_in, workdir, write_arrays};

const CONSTANT: ([f64; 31], [f64; 8]) = (
    [
        -0.2697663122101258,
        -0.4771162448593475,
        -0.12167851373562759,
        0.24983273397661704,
        0.7044057379893017,
        0.1820856413019585,
        0.12166835912211468,
        0.25769720647685046,
        -0.3255097004961181,
        0.07566376819663574,
        0.2334164427611804,
        0.08405620990994062,
        -0.3314426004961052,
        -0.1990438309546316,
        0.07460619724719829,
        -0.1394392580600314,
        -0.4653467774253977,
        0.07321402303931752,
        0.22903814539504627,
        -0.10741345875306049,
        0.33080984700539867,
        -0.2791043648403088,
        -0.274017559002073,
        -0.09956854625622305,
        -0.4654630695800009,
        0.8058903418009915,
        -0.1550205863929735,
        0.20698200500928368,
        0.38578120199324195,
        0.2846170126853739,
        -0.6703982146786157,
    ],
    [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
);
const STEP: ([f64; 31], [f64; 8]) = (
    [
        -0.2426169968583189,
        -0.26361346080089904,
        -0.13771687219767154,
        0.1308589307103962,
        0.3304472544770485,
        0.15712336526164697,
        0.19854070792285303,
        0.09091624318588011,
        -0.24316571998829306,
        -0.004018070464321779,
        0.10660647144913658,
        0.06404401840937562,
        -0.29007272840838566,
        -0.2367472946855963,
        0.10887938730580299,
        -0.1258119783760345,
        -0.46994838129339167,
        0.04386247842470295,
        0.26891417545202156,
        -0.14750213512034074,
        0.06397811187968847,
        -0.011152121567187824,
        -0.22907864476706644,
        -0.022521127097499323,
        -0.19402973058629683,
        0.5672896431424851,
        -0.2398355306849552,
        0.17002326221784017,
        0.42346107157606466,
        0.16293199441894715,
        -0.5863930659950118,
    ],
    [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025],
);
const EXPONENTIAL: ([f64; 31], [f64; 8]) = (
    [
        -0.2434716079045062,
        -0.23353813086240482,
        -0.1397748665248558,
        0.10495273757711712,
        0.2693126115497477,
        0.1562196485888361,
        0.21654690072828783,
        0.042944342396544495,
        -0.22731635618905405,
        -0.020319947567369587,
        0.08486149209310549,
        0.06328783173270325,
        -0.27996890376392264,
        -0.2288566102228044,
        0.11420042304112081,
        -0.1143389833861963,
        -0.4734098438653295,
        0.02886034606543662,
        0.28697160958792867,
        -0.16147121293813418,
        0.017505522322252446,
        0.03893631849259099,
        -0.23832045883381475,
        -0.009864433441412239,
        -0.1440956784569228,
        0.5322033354419725,
        -0.2486511507541139,
        0.17133564637954649,
        0.4244524029871699,
        0.11474063651619329,
        -0.5391930395033634,
    ],
    [
        0.1,
        0.08000000000000002,
        0.06400000000000002,
        0.051200000000000016,
        0.04096000000000002,
        0.03276800000000001,
        0.026214400000000013,
        0.02097152000000001,
    ],
);
const COSINE: ([f64; 31], [f64; 8]) = (
    [
        -0.23114515007944533,
        -0.28371196144021493,
        -0.1343544798106489,
        0.1601625581000465,
        0.3824158008360946,
        0.15901511143863456,
        0.18340125988755815,
        0.148491296442559,
        -0.26438246702259866,
        0.01674257914732905,
        0.1287875181973043,
        0.0702718037296124,
        -0.3084757473981205,
        -0.25494227213720394,
        0.11008183550900544,
        -0.13377239120947834,
        -0.49202527731813067,
        0.03252445916747282,
        0.2726103095064726,
        -0.1581276367398817,
        0.11855105067145465,
        -0.052056046027112016,
        -0.2201016981710358,
        -0.02706190234413011,
        -0.22652577335332397,
        0.6195315868596393,
        -0.25250861133543684,
        0.1851895390840119,
        0.44339013112010706,
        0.19638157551927446,
        -0.6397717066393814,
    ],
    [
        0.1,
        0.0775,
        0.032500000000000015,
        0.01,
        0.0325,
        0.07750000000000005,
        0.10000000000000007,
        0.07750000000000007,
    ],
);
const PLATEAU_TRAIN: ([f64; 31], [f64; 20]) = (
    [
        -4.675422556380665,
        -1.5515935479434215,
        -1.8346949632144,
        -0.353185286389649,
        13.089440134504423,
        -2.9319270882916793,
        -0.683760644447094,
        -2.6273573873586957,
        -3.4608513760836295,
        -7.184963373124331,
        -0.9454052938790055,
        -4.092093057553906,
        -4.712648887693302,
        -3.3750907563812182,
        -6.383505148473165,
        1.904984503778979,
        -1.9753979337882115,
        -0.5710588564637183,
        -0.1093490713401733,
        2.4593646383451544,
        3.5203598689754165,
        -2.9956171206748943,
        0.8449569415376907,
        0.29031395497264123,
        -2.1449619351872053,
        4.166675977138608,
        -0.9356078701975254,
        -2.749678593317796,
        0.926017738054728,
        3.227454033485884,
        -4.153471771540614,
    ],
    [
        3.0, 3.0, 3.0, 1.5, 1.5, 1.5, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.375, 0.375,
        0.1875, 0.1875, 0.1875, 0.1875, 0.09375,
    ],
);
const PLATEAU_VAL: ([f64; 31], [f64; 20]) = (
    [
        -0.41761431100923424,
        -0.7642565828148244,
        -0.16286394128634624,
        0.22881343774126972,
        1.2816816016856603,
        0.09622439004572449,
        -0.07101184964651178,
        0.38911921549117806,
        -0.40595190434610573,
        0.1732634240422554,
        0.43717572346018757,
        0.06014048523652627,
        -0.5272564665222743,
        -0.22547010703920134,
        0.0697340875961119,
        -0.20197115274686558,
        -0.49185508029909664,
        -0.014590454895324796,
        0.09855061325855738,
        -0.08696825088862674,
        0.778568761604433,
        -0.6183526441105649,
        -0.3558562687375172,
        -0.20245326025139176,
        -0.8867136813053365,
        1.2329430990058896,
        0.05730565547895984,
        0.2894215111400185,
        0.5923016682100748,
        0.30151734694375276,
        -0.8938190151538273,
    ],
    [
        0.3,
        0.3,
        0.3,
        0.3,
        0.3,
        0.15,
        0.075,
        0.0375,
        0.01875,
        0.009375,
        0.0046875,
        0.00234375,
        0.001171875,
        0.0005859375,
        0.00029296875,
        0.000146484375,
        7.32421875e-05,
        3.662109375e-05,
        1.8310546875e-05,
        9.1552734375e-06,
    ],
);
const CLIP: ([f64; 31], [f64; 8]) = (
    [
        -0.2906887881525244,
        -0.1663447840598143,
        -0.12027886733890547,
        0.0131440146608165,
        0.19729341742652617,
        0.17730512536656776,
        0.29766752572043076,
        -0.1389633939600651,
        -0.20696080665170621,
        -0.09002356478852373,
        0.07700201020102694,
        0.08003009813812034,
        -0.20865510019153988,
        -0.15419714672872578,
        0.11802468220661086,
        -0.04888320452271085,
        -0.45716437348996364,
        -0.0005242808731742912,
        0.37150771052951714,
        -0.18882192230981665,
        -0.0761239384194206,
        0.1337710962829575,
        -0.2743786169110236,
        -0.0023701603902010443,
        -0.06671168809061587,
        0.4667531845902169,
        -0.2971290936184935,
        0.19119208270001775,
        0.3549740479433212,
        -0.09894641989203905,
        -0.25602762805128215,
    ],
    [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
);
const SAVE_BEST: ([f64; 31], [f64; 12]) = (
    [
        -0.2697663122101258,
        -0.4771162448593475,
        -0.12167851373562759,
        0.24983273397661704,
        0.7044057379893017,
        0.1820856413019585,
        0.12166835912211468,
        0.25769720647685046,
        -0.3255097004961181,
        0.07566376819663574,
        0.2334164427611804,
        0.08405620990994062,
        -0.3314426004961052,
        -0.1990438309546316,
        0.07460619724719829,
        -0.1394392580600314,
        -0.4653467774253977,
        0.07321402303931752,
        0.22903814539504627,
        -0.10741345875306049,
        0.33080984700539867,
        -0.2791043648403088,
        -0.274017559002073,
        -0.09956854625622305,
        -0.4654630695800009,
        0.8058903418009915,
        -0.1550205863929735,
        0.20698200500928368,
        0.38578120199324195,
        0.2846170126853739,
        -0.6703982146786157,
    ],
    [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
);

const WEIGHTS: ([f64; 31], [f64; 8]) = (
    [
        -0.3147182503167619,
        -0.47211056392549006,
        -0.17395824074578667,
        0.12245650852409444,
        0.36830837182622894,
        0.12235168661312051,
        0.18795087787989012,
        0.6958758269207707,
        -0.4273468791358103,
        -0.04935629005890872,
        -0.1385353589241082,
        0.06211866301439031,
        -0.5380365438495663,
        -0.36959444619489407,
        0.02887235465121069,
        -0.2846884135000531,
        -0.7535907867919427,
        0.05876736333851591,
        0.34313989280905244,
        -0.2432896800687819,
        0.3019337153071339,
        -0.069303526562628,
        -0.555014109768219,
        0.17056722263750743,
        -0.14834292851519143,
        0.610536163224112,
        0.011874216959166451,
        0.07272245743127453,
        0.4627329572105723,
        0.9555122965862991,
        -1.418245253796871,
    ],
    [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
);
const AUTO: ([f64; 31], [f64; 8]) = (
    [
        -0.2510411656936346,
        -0.5427100283915969,
        -0.059118293402230286,
        0.30358913967540324,
        1.0893196873037239,
        0.10015974030984731,
        0.03797443917002176,
        -0.23117264405970026,
        -0.30550203256857617,
        0.16976416818781054,
        0.5769555080540586,
        0.07083436275069578,
        -0.11320618617761684,
        -0.2559725678372071,
        -0.05596127763284873,
        -0.07001318212817212,
        -0.34958441742416085,
        0.0086753808667339,
        0.2635837659940754,
        -0.13955963995305445,
        0.3850272570791502,
        -0.5743298887404318,
        0.027201315934665585,
        -0.32932552561696915,
        -0.6354428396549895,
        1.1656545078736982,
        -0.49078508192874104,
        0.46888516557002363,
        0.16451037773728652,
        0.21180996119677417,
        -0.3763203389340608,
    ],
    [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
);

/// The script's rows as CSV: `a,b,c,y`.
fn rows(n: usize, off: f64) -> String {
    let mut text = String::from("a,b,c,y\n");
    for i in 0..n {
        let f = i as f64;
        let k = (i + off as usize) % 2;
        let y = if k == 0 {
            0
        } else if !(i + off as usize).is_multiple_of(3) {
            1
        } else {
            2
        };
        let c = ((i * 7) as f64 + off) % 5.0 / 5.0;
        text.push_str(&format!(
            "{},{},{},{y}\n",
            (f + off).sin(),
            (2.0 * f + off).cos(),
            c
        ));
    }
    text
}

/// The script's `init()` as an npz `--init` file.
fn write_init(path: &Path) {
    let w0: Vec<f64> = (0..4)
        .flat_map(|i| (0..3).map(move |j| 0.1 * ((i * 3 + j) % 7) as f64 - 0.3))
        .collect();
    let b0: Vec<f64> = (0..4).map(|i| 0.05 * i as f64 - 0.1).collect();
    let w2: Vec<f64> = (0..3)
        .flat_map(|i| (0..4).map(move |j| 0.2 * ((i + 2 * j) % 5) as f64 - 0.4))
        .collect();
    write_arrays(
        path,
        &[
            ("0.weight", vec![4, 3], w0),
            ("0.bias", vec![4], b0),
            ("2.weight", vec![3, 4], w2),
            ("2.bias", vec![3], vec![0.1, -0.1, 0.0]),
        ],
    );
}

/// Trains with `extra` flags; returns the weights in state_dict order and the log's lr column.
fn train(name: &str, epochs: usize, lr: f64, extra: &[&str]) -> (Vec<f64>, Vec<f64>) {
    let dir = workdir(name);
    fs::write(dir.join("train.csv"), rows(12, 0.0)).unwrap();
    fs::write(dir.join("val.csv"), rows(6, 1.0)).unwrap();
    write_init(&dir.join("init.npz"));
    let (epochs, lr) = (epochs.to_string(), lr.to_string());
    let mut args = vec![
        "train",
        "--data",
        "train.csv",
        "--arch",
        "linear(3,4), tanh, linear(4,3)",
        "--loss",
        "cross-entropy",
        "--init",
        "init.npz",
        "--dtype",
        "f64",
        "--optimizer",
        "sgd",
        "--momentum",
        "0.9",
        "--lr",
        &lr,
        "--batch-size",
        "4",
        "--no-shuffle",
        "--epochs",
        &epochs,
        "--log",
        "log.csv",
        "--quiet",
        "--out",
        "m.safetensors",
    ];
    args.extend_from_slice(extra);
    let o = run_in(&dir, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tensors =
        candle_core::safetensors::load(dir.join("m.safetensors"), &candle_core::Device::Cpu)
            .unwrap();
    let mut weights = Vec::new();
    for name in ["0.weight", "0.bias", "2.weight", "2.bias"] {
        weights.extend(
            tensors[name]
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap(),
        );
    }
    let log = fs::read_to_string(dir.join("log.csv")).unwrap();
    let mut lines = log.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..3], ["epoch", "lr", "loss"], "{log}");
    assert_eq!(*header.last().unwrap(), "seconds", "{log}");
    let lrs = lines
        .map(|l| l.split(',').nth(1).unwrap().parse::<f64>().unwrap())
        .collect();
    (weights, lrs)
}

/// Weights agree to 1e-10 relative to the largest; rates to the last bit but one.
fn check(name: &str, got: (Vec<f64>, Vec<f64>), want: (&[f64], &[f64])) {
    let scale = want.0.iter().fold(1f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in got.0.iter().zip(want.0).enumerate() {
        assert!(
            (a - b).abs() <= 1e-10 * scale,
            "{name}: weight {i}: {a} vs {b}"
        );
    }
    assert_eq!(got.0.len(), want.0.len(), "{name}");
    assert_eq!(got.1.len(), want.1.len(), "{name}: epochs in the log");
    for (e, (a, b)) in got.1.iter().zip(want.1).enumerate() {
        assert!(
            (a - b).abs() <= 4.0 * f64::EPSILON * b.abs(),
            "{name}: lr of epoch {}: {a} vs {b}",
            e + 1
        );
    }
}

#[test]
fn constant_rate_matches_pytorch() {
    check(
        "constant",
        train("constant", 8, 0.1, &[]),
        (&CONSTANT.0, &CONSTANT.1),
    );
}

#[test]
fn step_and_exponential_schedules_match_pytorch() {
    check(
        "step",
        train("step", 8, 0.1, &["--lr-schedule", "step:3:0.5"]),
        (&STEP.0, &STEP.1),
    );
    check(
        "exponential",
        train("exponential", 8, 0.1, &["--lr-schedule", "exponential:0.8"]),
        (&EXPONENTIAL.0, &EXPONENTIAL.1),
    );
}

#[test]
fn cosine_rises_again_after_t_max_as_pytorch_does() {
    let got = train("cosine", 8, 0.1, &["--lr-schedule", "cosine:3:0.01"]);
    // Past T_MAX = 3 the rate climbs back towards the start.
    assert!(got.1[6] > got.1[3], "{:?}", got.1);
    check("cosine", got, (&COSINE.0, &COSINE.1));
}

#[test]
fn plateau_schedule_matches_pytorch_on_training_and_validation_loss() {
    check(
        "plateau_train",
        train(
            "plateau_train",
            20,
            3.0,
            &["--lr-schedule", "plateau:1:0.5"],
        ),
        (&PLATEAU_TRAIN.0, &PLATEAU_TRAIN.1),
    );
    check(
        "plateau_val",
        train(
            "plateau_val",
            20,
            0.3,
            &["--lr-schedule", "plateau:0:0.5", "--val", "val.csv"],
        ),
        (&PLATEAU_VAL.0, &PLATEAU_VAL.1),
    );
    // The case bites: the validation loss rises after epoch 5, so the rate
    // halves from epoch 6 on, while the training loss keeps falling (the
    // same run monitoring it would keep 0.3 for all 20 epochs).
    assert_eq!(PLATEAU_VAL.1[4..7], [0.3, 0.15, 0.075]);
}

#[test]
fn gradient_clipping_matches_pytorch() {
    check(
        "clip",
        train("clip", 8, 0.1, &["--clip-grad-norm", "0.05"]),
        (&CLIP.0, &CLIP.1),
    );
}

#[test]
fn save_best_keeps_the_best_validation_epoch() {
    let got = train("save_best", 12, 0.1, &["--val", "val.csv", "--save-best"]);
    check("save_best", got, (&SAVE_BEST.0, &SAVE_BEST.1));
}

#[test]
fn class_weights_match_pytorch() {
    check(
        "weights",
        train("weights", 8, 0.1, &["--class-weights", "1,2,0.5"]),
        (&WEIGHTS.0, &WEIGHTS.1),
    );
    // auto: 12 / (3 * [6, 4, 2]) = [2/3, 1, 2], counted on the training rows.
    check(
        "auto",
        train("auto", 8, 0.1, &["--class-weights", "auto"]),
        (&AUTO.0, &AUTO.1),
    );
}
