mod cli;
mod edit;
mod images;
mod overlays;
mod render;
