"""mmrats.LinearProbeRATSViT: DINO's linear-evaluation features (the final norm on each of the last n blocks, their
global vectors concatenated, + the last block's patch mean), computed here by hand from copies of the backbone cut
after each block; the backbone is frozen and stays in eval mode; bad settings name the config key."""
import pytest
import torch

from mmrats.models import LinearProbeRATSViT, RATSViT

ARCH = dict(embed_dims=32, num_heads=4, num_layers=5, num_registers=8)
KW = dict(img_size=32, patch_size=8)
VARIANTS = {  # name: backbone kwargs, and how the per-block global vector is read from forward_features
    'rats': (dict(mode='rats'), lambda f: f['registers'].mean(1)),
    'vit': (dict(mode='mhsa'), lambda f: f['cls_token']),
    'vit+registers': (dict(mode='mhsa', num_registers=4), lambda f: f['cls_token']),  # 'auto': [CLS] first
}


def cut_after(state_dict, variant, depth):
    """The same backbone with only its first ``depth`` blocks: its forward_features are block ``depth - 1``'s
    tokens through the final norm (RATSViT norms its last block's output)."""
    kwargs, _ = VARIANTS[variant]
    model = RATSViT(arch=dict(ARCH, num_layers=depth), **KW, **kwargs)
    keep = {k: v for k, v in state_dict.items() if not k.startswith('blocks.') or int(k.split('.')[1]) < depth}
    model.load_state_dict(keep, strict=True)
    return model.eval()


@pytest.mark.parametrize('variant', sorted(VARIANTS))
@pytest.mark.parametrize('n, avgpool', [(4, False), (1, True), (5, True)])
def test_features_are_dinos_by_hand(variant, n, avgpool):
    kwargs, global_of = VARIANTS[variant]
    probe = LinearProbeRATSViT(arch=ARCH, **KW, **kwargs, n_last_blocks=n, avgpool_patchtokens=avgpool,
                               drop_path_rate=0.5)
    with torch.no_grad():  # a final norm that is not the identity: its affine part is applied to every block
        probe.norm.weight.uniform_(0.5, 2.0)
        probe.norm.bias.uniform_(-1.0, 1.0)
    probe.train()  # what the runner does every epoch: the frozen backbone must stay in eval mode (no drop path)
    x = torch.randn(3, 3, 32, 48)
    (got,) = probe(x)

    sd = probe.state_dict()
    with torch.no_grad():
        parts = [global_of(cut_after(sd, variant, d).forward_features(x)) for d in range(ARCH['num_layers'] - n + 1,
                                                                                        ARCH['num_layers'] + 1)]
        if avgpool:
            parts.append(cut_after(sd, variant, ARCH['num_layers']).forward_features(x)['patch_tokens'].mean(1))
    want = torch.cat(parts, dim=1)
    assert got.shape == (3, 32 * (n + avgpool)) == (3, probe.out_channels)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_the_backbone_is_frozen():
    probe = LinearProbeRATSViT(arch=ARCH, **KW, n_last_blocks=2)
    assert not probe.training and not any(p.requires_grad for p in probe.parameters())
    probe.train(True)
    assert not any(m.training for m in probe.modules())
    (feats,) = probe(torch.randn(2, 3, 32, 32))
    assert not feats.requires_grad  # no graph through the backbone: a head on top trains alone


@pytest.mark.parametrize('kwargs, message', [
    (dict(n_last_blocks=0), 'model.backbone.n_last_blocks=0: the backbone has 5 blocks; set it between 1 and 5'),
    (dict(n_last_blocks=6), 'model.backbone.n_last_blocks=6'),
    (dict(global_repr='lastvit'), "model.backbone.global_repr='lastvit'"),
    (dict(global_repr='cls'), "model.backbone.global_repr: global representation 'cls' needs a backbone with"),
])
def test_bad_settings_name_the_key(kwargs, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(')):
        LinearProbeRATSViT(arch=ARCH, **KW, **kwargs)
