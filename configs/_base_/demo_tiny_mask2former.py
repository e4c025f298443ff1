# The demo-size model shared by the demo configs: a 4-block RATS (C=64, 16 registers) and a
# small Mask2Former (width 64, 1 pixel-decoder layer, 3 decoder layers, 16 queries, 1,024
# sampled points), so that a few hundred iterations run in minutes on 2 CPU cores.
demo_embed_dims = 64
demo_num_registers = 16
demo_backbone = dict(
    arch=dict(_delete_=True, embed_dims=demo_embed_dims, num_heads=4, num_layers=4, mlp_ratio=4.0,
              num_registers=demo_num_registers),
    img_size=128,
    out_indices=(0, 1, 2, 3),
    drop_path_rate=0.0,
    parallel_branch=True,
    init_cfg=None)
demo_head = dict(
    in_channels=[demo_embed_dims] * 4,
    register_channels=demo_embed_dims,
    num_queries=demo_num_registers,
    feat_channels=64,
    out_channels=64,
    pixel_decoder=dict(
        encoder=dict(
            num_layers=1,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=64, num_heads=4),
                ffn_cfg=dict(embed_dims=64, feedforward_channels=128))),
        positional_encoding=dict(num_feats=32)),
    positional_encoding=dict(num_feats=32),
    transformer_decoder=dict(
        num_layers=3,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=64, num_heads=4),
            cross_attn_cfg=dict(embed_dims=64, num_heads=4),
            ffn_cfg=dict(embed_dims=64, feedforward_channels=256))),
    train_cfg=dict(num_points=1024))
# The synthetic scenes have a background class and 6 shape classes (mmrats.datasets.synthetic_scenes).
demo_seg_head = dict(demo_head, num_classes=7, loss_cls=dict(class_weight=[1.0] * 7 + [0.1]))
demo_det_head = dict(demo_head, num_things_classes=6, num_stuff_classes=0,
                     loss_cls=dict(class_weight=[1.0] * 6 + [0.1]))
