"""Graph algebra on the report's example graphs, the mean layer = its matrix form = SAGEConv,
noise injection, and node classification end to end on a synthetic graph."""

import copy as copy_module
import json
from pathlib import Path

import hydra
import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import SAGEConv

from dl2.data.graphs import add_random_edges, undirected_pairs
from dl2.errors import ConfigValueError
from dl2.nets import gnn
from dl2.nets.dropout import DropoutStream
from dl2.nets.gnn import GAT, GCN, MeanConv, mean_conv_dense
from dl2.nets.sparse import linear as sparse_linear
from dl2.nets.sparse import to_csr, transpose_of
from dl2.run.job import train
from dl2.tasks.node_classification import NodeClassifier
from tests.graph_algebra import adjacency, degree_matrix, laplacian, walk_counts
from tests.harness import CodeRunner, compose_cfg, write_crafted_pickle, write_planetoid

G1 = [[0, 1, 1, 0, 1], [1, 0, 1, 0, 0], [1, 1, 0, 1, 0], [0, 0, 1, 0, 0], [1, 0, 0, 0, 0]]
G1_SQUARED = [[3, 1, 1, 1, 0], [1, 2, 1, 1, 1], [1, 1, 3, 0, 1], [1, 1, 0, 1, 0], [0, 1, 1, 0, 1]]
G2 = [
    [0, 1, 0, 0, 0, 0],
    [1, 0, 1, 0, 1, 0],
    [0, 1, 0, 1, 0, 0],
    [0, 0, 1, 0, 1, 1],
    [0, 1, 0, 1, 0, 1],
    [0, 0, 0, 1, 1, 0],
]
G2_LAPLACIAN = [
    [1, -1, 0, 0, 0, 0],
    [-1, 3, -1, 0, -1, 0],
    [0, -1, 2, -1, 0, 0],
    [0, 0, -1, 3, -1, -1],
    [0, -1, 0, -1, 3, -1],
    [0, 0, 0, -1, -1, 2],
]


def edges_of(matrix):
    return [(u, v) for u, row in enumerate(matrix) for v, x in enumerate(row) if x and u < v]


def test_example_graph_1_walks():
    adj = adjacency(edges_of(G1), 5)
    assert adj.tolist() == G1
    assert walk_counts(adj, 2).tolist() == G1_SQUARED
    # A^3 counts walks of length 3: check one entry by enumeration
    a3 = walk_counts(adj, 3)
    walks = sum(G1[0][i] * G1[i][j] * G1[j][2] for i in range(5) for j in range(5))
    assert a3[0, 2] == walks


def test_example_graph_2_degrees_and_laplacian():
    adj = adjacency(edges_of(G2), 6)
    assert torch.diag(degree_matrix(adj)).tolist() == [1, 3, 2, 3, 3, 2]
    assert laplacian(adj).tolist() == G2_LAPLACIAN
    norm = laplacian(adj, normalized=True)
    deg = torch.tensor([1.0, 3, 2, 3, 3, 2])
    expected = torch.eye(6) - adj / torch.sqrt(deg[:, None] * deg[None, :])
    torch.testing.assert_close(norm, expected)
    assert torch.linalg.eigvalsh(laplacian(adj)).min().abs() < 1e-5  # connected: one zero


def test_directed_adjacency_and_bad_input():
    adj = adjacency([(0, 1), (1, 2)], 3, directed=True)
    assert adj.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    with pytest.raises(ConfigValueError, match="0..2"):
        adjacency([(0, 3)], 3)
    with pytest.raises(ConfigValueError, match="square"):
        laplacian(torch.zeros(2, 3))
    assert laplacian(torch.zeros(2, 2), normalized=True).tolist() == [[1, 0], [0, 1]]


def random_graph(n, p, seed):
    gen = torch.Generator().manual_seed(seed)
    adj = (torch.rand(n, n, generator=gen) < p).float()
    adj.fill_diagonal_(0)
    adj[0] = 0  # node 0 receives nothing: an isolated target
    adj[:, 0] = 0
    return adj


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("c_in", "c_out"), [(5, 4), (3, 6)])  # projects first / aggregates first
def test_mean_layer_equals_matrix_form_and_sageconv(seed, c_in, c_out):
    torch.manual_seed(seed)
    n = 12
    adj = random_graph(n, 0.3, seed)
    edge_index = adj.nonzero().t().flip(0)  # adj[v, u] = 1 -> message u -> v
    x = torch.randn(n, c_in)
    layer = MeanConv(c_in, c_out)
    out = layer(x, edge_index)
    dense = mean_conv_dense(
        x, adj, layer.lin_neigh.weight, layer.lin_self.weight, layer.lin_neigh.bias
    )
    torch.testing.assert_close(out, dense, atol=1e-5, rtol=1e-5)
    # the isolated node: D^-1 is taken as 0, so only B h_v (+ bias) remains
    torch.testing.assert_close(out[0], layer.lin_self(x[0]) + layer.lin_neigh.bias)
    sage = SAGEConv(c_in, c_out, aggr="mean", root_weight=True)
    with torch.no_grad():
        sage.lin_l.weight.copy_(layer.lin_neigh.weight)
        sage.lin_l.bias.copy_(layer.lin_neigh.bias)
        sage.lin_r.weight.copy_(layer.lin_self.weight)
    torch.testing.assert_close(sage(x, edge_index), out, atol=1e-5, rtol=1e-5)
    no_bias = MeanConv(c_in, c_out, bias=False)
    torch.testing.assert_close(
        no_bias(x, edge_index),
        mean_conv_dense(x, adj, no_bias.lin_neigh.weight, no_bias.lin_self.weight),
        atol=1e-5,
        rtol=1e-5,
    )


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 1.0])
def test_noise_adds_exactly_the_asked_new_edges(fraction):
    adj = random_graph(40, 0.1, 0)
    adj = ((adj + adj.t()) > 0).float()
    edge_index = adj.nonzero().t()
    before = undirected_pairs(edge_index)
    noisy = add_random_edges(edge_index, 40, fraction, seed=3)
    after = undirected_pairs(noisy)
    assert before <= after and len(after - before) == round(fraction * len(before))
    assert noisy.shape[1] == edge_index.shape[1] + 2 * len(after - before)
    assert not (noisy[0] == noisy[1]).any()
    pairs = list(zip(*noisy.tolist(), strict=True))
    assert len(pairs) == len(set(pairs))  # no duplicate directed edges
    assert torch.equal(noisy, add_random_edges(edge_index, 40, fraction, seed=3))


def test_noise_bad_input():
    ei = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ConfigValueError, match="noise"):
        add_random_edges(ei, 3, -0.1)
    with pytest.raises(ConfigValueError, match="0..1"):
        add_random_edges(torch.tensor([[0, 5], [5, 0]]), 2, 0.1)
    with pytest.raises(ConfigValueError, match="only"):
        add_random_edges(ei, 3, 5.0)


def test_noise_follows_the_run_seed(tmp_path):
    """data.noise_seed defaults to the run's seed: two seeds see two different noisy graphs,
    the same seed the same one."""
    edges = {}
    for run, seed in (("a", 1), ("b", 2), ("c", 1)):
        cfg = compose_cfg(
            tmp_path / run,
            ["experiment=gnn", "data=sbm_graph", "data.noise=0.5", f"seed={seed}", "logger=none"],
        )
        assert cfg.data.noise_seed == seed
        datamodule = hydra.utils.instantiate(cfg.data)
        datamodule.setup()
        edges[run] = datamodule.graph.edge_index
    assert torch.equal(edges["a"], edges["c"])
    assert not torch.equal(edges["a"], edges["b"])


@pytest.mark.parametrize("model", ["gcn", "meanconv", "gat"])
def test_node_classification_on_a_synthetic_graph(tmp_path, model):
    cfg = compose_cfg(
        tmp_path,
        [
            "experiment=gnn",
            f"model={model}",
            "data=sbm_graph",
            "data.signal=2.0",
            "trainer.max_epochs=100",
            "logger=csv",
        ],
    )
    metrics = train(cfg)
    assert metrics["test/acc"] > 0.8, metrics
    assert {k for k in metrics if k.startswith("val/")} == set(NodeClassifier.VALIDATION_METRICS)
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert results["best_epoch"] is not None


def test_unknown_dataset_name(tmp_path):
    cfg = compose_cfg(tmp_path, ["experiment=gnn", "data.name=Cornell", "logger=none"])
    with pytest.raises(ConfigValueError) as info:
        train(cfg)
    assert info.value.key == "data.name" and "Cora, CiteSeer, PubMed" in str(info.value)


SHARED_PLANETOID = Path(__file__).resolve().parents[2] / "shared" / "data" / "planetoid"


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_PLANETOID.is_dir(), reason="no local Planetoid copy")
def test_cora_from_a_local_copy(tmp_path):
    import shutil

    shutil.copytree(SHARED_PLANETOID / "Cora" / "raw", tmp_path / "planetoid" / "Cora" / "raw")
    cfg = compose_cfg(
        tmp_path, ["experiment=gnn", f"paths.data_dir={tmp_path}", "data.noise=0.1", "logger=none"]
    )
    metrics = train(cfg)
    assert metrics["test/acc"] > 0.7, metrics


@pytest.mark.parametrize("name", ["Cora", "CiteSeer"])
def test_a_planetoid_graph_is_the_one_torch_geometric_builds(tmp_path, name):
    from torch_geometric.io.planetoid import read_planetoid_data

    from dl2.data.graphs import read_planetoid

    raw = write_planetoid(tmp_path, name)
    ours, theirs = read_planetoid(raw, name), read_planetoid_data(str(raw), name)
    assert ours.num_nodes == theirs.num_nodes == 570
    for key in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(ours[key], theirs[key]), key


@pytest.mark.parametrize("crafted", ["processed/pre_transform.pt", "processed/data.pt", "raw/x"])
def test_a_crafted_planetoid_file_runs_no_code(tmp_path, crafted):
    """A processed cache is never read (the graph is rebuilt from the raw files each time) and
    a raw file (a pickle) that names a callable is refused: the callable never runs."""
    from dl2.data.graphs import PlanetoidDataModule

    raw = write_planetoid(tmp_path, "Cora")
    marker = tmp_path / "ran"
    if crafted.startswith("raw/"):
        write_crafted_pickle(raw / "ind.cora.x", marker)
    else:
        (raw.parent / "processed").mkdir()
        torch.save(CodeRunner(marker), raw.parent / crafted)
    data = PlanetoidDataModule(data_dir=str(tmp_path), name="Cora")
    if crafted.startswith("raw/"):
        with pytest.raises(ConfigValueError) as info:
            data.setup()
        assert "ind.cora.x" in str(info.value) and "subprocess.call" in str(info.value)
    else:
        data.setup()
        assert data.graph.num_nodes == 570
    assert not marker.exists()


def test_csr_linear_equals_dense_forward_and_backward():
    torch.manual_seed(0)
    x = torch.rand(40, 30, dtype=torch.float64)
    x[x < 0.8] = 0
    weight = torch.randn(5, 30, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(5, dtype=torch.float64)
    grad = torch.randn(40, 5, dtype=torch.float64)
    dense = F.linear(x, weight, bias)
    (dense_grad,) = torch.autograd.grad(dense, weight, grad)
    for _ in range(2):  # the second time from the cached transpose
        out = sparse_linear(to_csr(x), weight, bias)
        (csr_grad,) = torch.autograd.grad(out, weight, grad)
        assert torch.allclose(out, dense, atol=1e-12)
        assert torch.allclose(csr_grad, dense_grad, atol=1e-12)
    assert torch.equal(transpose_of(to_csr(x)).to_dense(), x.t())


@pytest.mark.parametrize("net", ["gcn", "mean", "gat"])
def test_sparse_features_change_nothing_but_the_speed(net, monkeypatch):
    torch.manual_seed(0)
    x = (torch.rand(60, 40) < 0.05).float() * torch.rand(60, 40)
    edges = torch.randint(0, 60, (2, 200))
    model = GAT(40, 3) if net == "gat" else GCN(40, 3, conv=net)
    model.eval()
    fast = model(x, edges)
    assert model._sparse_x[1].layout == torch.sparse_csr
    assert torch.equal(copy_module.deepcopy(model)(x, edges), fast), "a copy rebuilds the cache"
    monkeypatch.setattr(gnn, "SPARSE_BELOW", 0.0)
    copy = GAT(40, 3) if net == "gat" else GCN(40, 3, conv=net)
    copy.load_state_dict(model.state_dict())
    copy.eval()
    slow = copy(x, edges)
    assert copy._sparse_x[1].layout == torch.strided
    assert torch.allclose(fast, slow, atol=1e-5)


def test_offline_without_a_local_copy_says_where_to_put_one(tmp_path, monkeypatch):
    from urllib.error import URLError

    from dl2.data.graphs import PlanetoidDataModule

    def offline(*args, **kwargs):
        raise URLError("no network")

    # PyG's own download (it copies from the URL through fsspec, not urllib)
    monkeypatch.setattr("torch_geometric.io.fs.cp", offline)
    with pytest.raises(ConfigValueError) as info:
        PlanetoidDataModule(data_dir=str(tmp_path), name="CiteSeer").prepare_data()
    message = str(info.value)
    assert info.value.key == "data_dir" and "no network" in message
    assert f"{tmp_path}/planetoid/CiteSeer/raw" in message and "ind.citeseer.*" in message


@pytest.mark.parametrize("model", ["gcn", "meanconv", "gat"])
def test_weight_decay_reaches_the_layers_each_recipe_names(tmp_path, model):
    """GCN and the mean layer decay the first layer alone (Kipf & Welling, PyG's example),
    GAT every layer (Veličković et al.): with zero gradients an Adam step moves exactly the
    decayed parameters."""
    cfg = compose_cfg(tmp_path, ["experiment=gnn", f"model={model}", "logger=none"])
    net = hydra.utils.instantiate(cfg.model.net, in_channels=12, num_classes=3)
    task = hydra.utils.instantiate(cfg.model.task, net=net)
    with torch.no_grad():  # no zeros (biases start at 0, and decay leaves 0 where it is)
        for p in task.parameters():
            p.add_(1.0)
    before = {n: p.detach().clone() for n, p in task.named_parameters()}
    optimizer = task.configure_optimizers()
    for p in task.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    moved = {n for n, p in task.named_parameters() if not torch.equal(p, before[n])}
    first = {f"net.conv1.{n}" for n, _ in net.conv1.named_parameters()}
    assert moved == (first if model != "gat" else set(before)), sorted(moved)


def test_weight_decay_on_a_net_without_a_first_layer(tmp_path):
    with pytest.raises(ConfigValueError) as info:
        NodeClassifier(torch.nn.Linear(3, 2), torch.optim.Adam, 2, weight_decay_on="first_layer")
    assert info.value.key == "model.task.weight_decay_on"
    with pytest.raises(ConfigValueError, match="first_layer"):
        NodeClassifier(torch.nn.Linear(3, 2), torch.optim.Adam, 2, weight_decay_on="conv1")


def test_jobs_that_prepare_one_graph_together_take_turns(tmp_path, monkeypatch):
    """Two joblib workers once processed CiteSeer at the same time and one read the other's
    half-written processed/ file: preparing a graph waits for the lock of its folder."""
    import threading
    from urllib.error import URLError

    from dl2.data.graphs import PlanetoidDataModule
    from dl2.files import exclusive

    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr("torch_geometric.io.fs.cp", offline)
    errors = []

    def prepare():
        try:
            PlanetoidDataModule(data_dir=str(tmp_path), name="CiteSeer").prepare_data()
        except ConfigValueError as err:
            errors.append(err)

    with exclusive(tmp_path / "planetoid" / ".CiteSeer.lock"):
        worker = threading.Thread(target=prepare)
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and not errors  # waiting for the lock
    worker.join(10)
    assert not worker.is_alive() and "no network" in str(errors[0])


def test_a_config_error_survives_a_worker_pickle():
    """joblib's workers send a job's error back pickled: a ConfigValueError arrives whole."""
    import pickle

    err = pickle.loads(pickle.dumps(ConfigValueError("data.data_dir", "/x", "holds nothing")))
    assert (err.key, err.value, err.allowed) == ("data.data_dir", "/x", "holds nothing")


@pytest.mark.parametrize("net", [GCN, GAT])
def test_a_nets_dropout_ignores_other_draws_and_resumes_from_its_state(net):
    torch.manual_seed(0)
    x = (torch.rand(30, 12) < 0.1).float()  # sparse features, as Cora's
    edges = torch.randint(0, 30, (2, 80))
    model = net(12, 3)
    model.train()
    first = model(x, edges)
    state = {k: v.clone() if torch.is_tensor(v) else v for k, v in model.state_dict().items()}
    second = model(x, edges)
    torch.manual_seed(123)  # someone else draws: the net's masks do not move
    torch.rand(1000)
    copy = net(12, 3)
    copy.load_state_dict(state)
    copy.train()
    assert torch.equal(copy(x, edges), second)
    assert not torch.equal(first, second), "new masks each step"


def test_sparse_input_dropout_is_dropout():
    x = torch.zeros(200, 300)
    x[torch.rand(200, 300) < 0.05] = 1.0
    stream = DropoutStream()
    out = stream(x.to_sparse().coalesce(), 0.4, True).to_dense()
    kept = out[x > 0]
    assert set(kept.unique().tolist()) <= {0.0, torch.tensor(1 / 0.6).item()}
    assert torch.all(out[x == 0] == 0)
    assert abs(float((kept == 0).float().mean()) - 0.4) < 0.05
    assert torch.equal(stream(x, 0.4, False), x)
